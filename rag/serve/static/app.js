// The rag web page: plain modules, no build step, no network beyond this server.
// Document text is only ever set with textContent (never innerHTML) and stripped of control
// characters, so a document's <script> or <img onerror> shows as text.

const TEXT = {
  en: {
    ask: "Ask", archive: "Archive", search: "Search", add: "Add documents", collection: "Collection",
    language: "Language", new: "New conversation", conversations: "Conversations", question: "Your question",
    send: "Ask", enter: "Enter sends; Shift+Enter adds a line.", filter: "Title contains", speaker: "Speaker",
    lang: "Language", from: "From", to: "To", any: "any", folder: "A folder on this computer",
    upload: "Or upload files", index: "Index", close: "Close", token: "This server needs its token",
    tokenLabel: "Token", save: "Save", play: "▶ play at", open: "open", documents: "documents",
    chunks: "chunks", working: "Working…", done: "Done", failed: "failed", notFound: "No documents yet.",
    read: "files read", searching: "Searching…", noResults: "Nothing found.", stopped: "stopped",
  },
  es: {
    ask: "Preguntar", archive: "Archivo", search: "Buscar", add: "Añadir documentos", collection: "Colección",
    language: "Idioma", new: "Nueva conversación", conversations: "Conversaciones", question: "Tu pregunta",
    send: "Preguntar", enter: "Intro envía; Mayús+Intro añade una línea.", filter: "El título contiene",
    speaker: "Ponente", lang: "Idioma", from: "Desde", to: "Hasta", any: "cualquiera",
    folder: "Una carpeta de este ordenador", upload: "O sube archivos", index: "Indexar", close: "Cerrar",
    token: "Este servidor pide su token", tokenLabel: "Token", save: "Guardar", play: "▶ reproducir en",
    open: "abrir", documents: "documentos", chunks: "fragmentos", working: "Trabajando…", done: "Hecho",
    failed: "fallidos", notFound: "Aún no hay documentos.", read: "archivos leídos", searching: "Buscando…",
    noResults: "No se encontró nada.", stopped: "detenido",
  },
};

const $ = (id) => document.getElementById(id);
const state = { lang: localStorage.getItem("rag-lang") || (navigator.language.startsWith("es") ? "es" : "en"), session: null, docs: [] };
const t = (key) => TEXT[state.lang][key] || TEXT.en[key] || key;

// Control characters (terminal escapes included) never reach the page.
const clean = (text) => String(text ?? "").replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, "");

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = clean(text);
  if (cls) node.className = cls;
  return node;
}

function clock(seconds) {
  const s = Math.floor(seconds || 0);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(s >= 3600 ? 2 : 1, "0");
  const ss = String(s % 60).padStart(2, "0");
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mm}:${ss}` : `${mm}:${ss}`;
}

// ---- the API --------------------------------------------------------------------------------
function headers(json) {
  const h = json ? { "Content-Type": "application/json" } : {};
  const token = localStorage.getItem("rag-token");
  if (token) h.Authorization = `Bearer ${token}`;
  return h;
}

async function api(path, options = {}) {
  const reply = await fetch(path, { ...options, headers: { ...headers(options.json), ...(options.headers || {}) } });
  if (reply.status === 401) {
    askToken();
    throw new Error(t("token"));
  }
  const data = await reply.json().catch(() => ({}));
  if (!reply.ok) throw new Error(data.error || data.detail || `HTTP ${reply.status}`);
  return data;
}

function askToken() {
  const dialog = $("token-dialog");
  if (!dialog.open) dialog.showModal();
}

function collection() {
  return $("collection").value || null;
}

// ---- asking ---------------------------------------------------------------------------------
function sessionName() {
  if (!state.session) state.session = `web-${new Date().toISOString().replace(/[^0-9]/g, "").slice(0, 14)}`;
  return state.session;
}

async function* events(reply) {
  const reader = reply.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (data) yield [name, JSON.parse(data)];
    }
  }
}

function turnNode(question) {
  const li = el("li", null, "turn");
  li.append(el("p", question, "q"), el("p", "", "a"), el("div", null, "chips"), el("p", "", "stats"));
  $("turns").append(li);
  return li;
}

async function ask(question) {
  const li = turnNode(question);
  const answer = li.querySelector(".a");
  const pressed = performance.now();
  li.dataset.pressed = String(pressed);
  $("ask-button").disabled = true;
  try {
    const reply = await fetch("/api/chat", {
      method: "POST",
      headers: headers(true),
      body: JSON.stringify({ question, session: sessionName(), collection: collection(), stream: true }),
    });
    if (reply.status === 401) { askToken(); throw new Error(t("token")); }
    if (!reply.ok) throw new Error((await reply.json().catch(() => ({}))).error || `HTTP ${reply.status}`);
    for await (const [name, data] of events(reply)) {
      if (name === "token") {
        if (!li.dataset.firstTokenMs) li.dataset.firstTokenMs = String(performance.now() - pressed);
        answer.textContent += clean(data.text);
      } else if (name === "answer") {
        showAnswer(li, data);
      } else if (name === "error") {
        throw new Error(data.error);
      }
    }
  } catch (error) {
    answer.append(el("span", ` ${error.message}`, "error"));
  } finally {
    $("ask-button").disabled = false;
    loadSessions();
  }
}

function showAnswer(li, data) {
  li.querySelector(".a").textContent = clean(data.answer);
  li.dataset.done = "1";
  const chips = li.querySelector(".chips");
  chips.replaceChildren();
  for (const c of data.citations || []) {
    const chip = el("button", `[${c.number}] ${c.label}`, "chip");
    chip.type = "button";
    chip.addEventListener("click", () => showPassage(c));
    chips.append(chip);
  }
  const tm = data.timings || {};
  li.querySelector(".stats").textContent = data.abstained
    ? clean(data.abstain_reason)
    : `${data.tokens.output} tokens · ${Number(tm.total || 0).toFixed(1)} s`;
  li.dataset.apiFirstTokenMs = String(1000 * (tm.first_token || 0));
}

function showPassage(c) {
  $("passage-title").textContent = clean(`[${c.number}] ${c.title}`);
  const where = c.start_s !== null && c.start_s !== undefined
    ? `${clock(c.start_s)}–${clock(c.end_s)}`
    : c.page_start ? `p. ${c.page_start}${c.page_end && c.page_end !== c.page_start ? `–${c.page_end}` : ""}` : "";
  $("passage-meta").textContent = clean([c.speakers.join(", "), c.date, where, c.source].filter(Boolean).join(" · "));
  const text = $("passage-text");
  text.replaceChildren();
  const body = clean(c.text);
  const quote = clean(c.quote);
  const at = quote ? body.indexOf(quote) : -1;
  if (at >= 0) {
    text.append(document.createTextNode(body.slice(0, at)), el("mark", quote), document.createTextNode(body.slice(at + quote.length)));
  } else {
    text.textContent = body;
  }
  showMedia(c.link, c.start_s);
  $("passage").showModal();
  text.querySelector("mark")?.scrollIntoView({ block: "center" });
}

function showMedia(link, start) {
  const box = $("passage-media");
  box.replaceChildren();
  if (!link) return;
  const url = link.split("#")[0];
  if (url.startsWith("file:")) {
    const token = localStorage.getItem("rag-token");
    const params = new URLSearchParams({ url });
    if (collection()) params.set("collection", collection());
    if (token) params.set("token", token);
    const audio = /\.(mp3|wav|m4a|ogg|oga|opus|flac)$/i.test(url);
    const player = document.createElement(audio ? "audio" : "video");
    player.controls = true;
    player.preload = "metadata";
    player.src = `/api/media?${params}#t=${Math.floor(start || 0)}`;
    player.addEventListener("loadedmetadata", () => { player.currentTime = start || 0; }, { once: true });
    box.append(player);
  } else if (/^https?:/i.test(link)) {
    const a = el("a", `${t("play")} ${clock(start)}`);
    a.href = link;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    box.append(a);
  }
}

async function loadSessions() {
  try {
    const { sessions } = await api("/api/sessions");
    const list = $("session-list");
    list.replaceChildren();
    for (const s of sessions) {
      const button = el("button", s.first || s.name);
      button.type = "button";
      button.title = s.name;
      button.setAttribute("aria-current", String(s.name === state.session));
      button.addEventListener("click", () => openSession(s.name));
      const li = el("li");
      li.append(button);
      list.append(li);
    }
  } catch (error) { /* shown where it matters: on asking */ }
}

async function openSession(name) {
  state.session = name;
  const session = await api(`/api/sessions/${encodeURIComponent(name)}`);
  $("turns").replaceChildren();
  for (const turn of session.turns) {
    const li = turnNode(turn.question);
    li.querySelector(".a").textContent = clean(turn.answer);
    li.querySelector(".chips").append(el("span", (turn.cited || []).map((c) => c.label).join(" · "), "meta"));
  }
  loadSessions();
}

// ---- archive, search, ingest ----------------------------------------------------------------
async function loadArchive() {
  const { documents } = await api(`/api/documents${collection() ? `?collection=${encodeURIComponent(collection())}` : ""}`);
  state.docs = documents;
  fillSelect($("f-speaker"), [...new Set(documents.flatMap((d) => d.speakers))].sort());
  fillSelect($("f-lang"), [...new Set(documents.map((d) => d.language).filter(Boolean))].sort());
  renderArchive();
}

function fillSelect(select, values) {
  const keep = select.value;
  select.replaceChildren(el("option", t("any")));
  select.firstChild.value = "";
  for (const v of values) {
    const option = el("option", v);
    option.value = v;
    select.append(option);
  }
  select.value = values.includes(keep) ? keep : "";
}

function renderArchive() {
  const text = $("f-text").value.toLowerCase();
  const speaker = $("f-speaker").value;
  const lang = $("f-lang").value;
  const from = $("f-from").value;
  const to = $("f-to").value;
  const shown = state.docs.filter((d) =>
    (!text || `${d.title} ${d.name}`.toLowerCase().includes(text))
    && (!speaker || d.speakers.includes(speaker))
    && (!lang || d.language === lang)
    && (!from || (d.date && d.date >= from))
    && (!to || (d.date && d.date.slice(0, to.length) <= to)));
  $("archive-count").textContent = state.docs.length ? `${shown.length} / ${state.docs.length} ${t("documents")}` : t("notFound");
  const list = $("documents");
  list.replaceChildren();
  for (const d of shown) {
    const li = el("li");
    li.dataset.lang = d.language;
    li.append(el("div", d.title, "title"));
    li.append(el("div", [d.speakers.join(", "), d.date, d.language, `${d.chunks} ${t("chunks")}`, d.name].filter(Boolean).join(" · "), "meta"));
    if (/^https?:/i.test(d.url)) {
      const a = el("a", t("open"));
      a.href = d.url;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      li.append(a);
    }
    list.append(li);
  }
}

async function runSearch(query) {
  const list = $("results");
  list.replaceChildren(el("li", t("searching")));
  try {
    const { hits } = await api("/api/search", { method: "POST", json: true, body: JSON.stringify({ question: query, collection: collection(), k: 10 }) });
    list.replaceChildren();
    if (!hits.length) list.append(el("li", t("noResults")));
    for (const h of hits) {
      const li = el("li");
      li.append(el("div", h.label, "title"), el("p", h.text, "passage"));
      if (h.link) {
        const button = el("button", `${t("play")} ${clock(h.start_s)}`, "chip");
        button.type = "button";
        button.addEventListener("click", () => showPassage({ number: "", title: h.title, speakers: h.speakers, date: h.date, start_s: h.start_s, end_s: h.end_s, page_start: h.page_start, page_end: h.page_end, source: h.source, text: h.text, quote: "", link: h.link }));
        li.append(button);
      }
      list.append(li);
    }
  } catch (error) {
    list.replaceChildren(el("li", error.message, "error"));
  }
}

async function followJob(job) {
  const status = $("ingest-status");
  const problems = $("ingest-problems");
  problems.replaceChildren();
  for (;;) {
    const j = await api(`/api/ingest/${job.id}`);
    status.textContent = `${t("working")} ${j.files_done}/${j.files_total} ${t("read")} · ${clean(j.current)}`;
    if (j.state !== "running") {
      if (j.state === "failed") { status.textContent = clean(j.error); status.className = "error"; return; }
      const s = j.report.summary;
      status.className = "";
      status.textContent = `${t("done")}: ${Object.entries(s).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`).join(", ")}`;
      for (const r of j.report.results.filter((r) => r.status === "failed" || r.status === "skipped")) {
        problems.append(el("li", `${r.status}: ${r.path}: ${r.reason}`, r.status === "failed" ? "error" : "meta"));
      }
      loadCollections();
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
}

async function loadCollections() {
  const { collections, collection: current } = await api("/api/status");
  const select = $("collection");
  const keep = select.value || current;
  select.replaceChildren();
  for (const c of collections) {
    const option = el("option", `${c.collection} (${c.documents})`);
    option.value = c.collection;
    select.append(option);
  }
  select.value = collections.some((c) => c.collection === keep) ? keep : current;
}

// ---- wiring ---------------------------------------------------------------------------------
function translate() {
  document.documentElement.lang = state.lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  $("ui-lang").value = state.lang;
}

function show(view) {
  for (const tab of document.querySelectorAll(".tab")) tab.setAttribute("aria-pressed", String(tab.dataset.view === view));
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== `view-${view}`;
  if (view === "archive") loadArchive().catch((e) => { $("archive-count").textContent = e.message; });
}

function init() {
  translate();
  for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => show(tab.dataset.view));
  $("ui-lang").addEventListener("change", (e) => { state.lang = e.target.value; localStorage.setItem("rag-lang", state.lang); translate(); });
  $("collection").addEventListener("change", () => { if (!$("view-archive").hidden) loadArchive(); });
  $("ask-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const q = $("question").value.trim();
    if (!q) return;
    $("question").value = "";
    ask(q);
  });
  $("question").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("ask-form").requestSubmit(); }
  });
  $("new-conversation").addEventListener("click", () => { state.session = null; $("turns").replaceChildren(); $("question").focus(); loadSessions(); });
  for (const id of ["f-text", "f-speaker", "f-lang", "f-from", "f-to"]) {
    for (const kind of ["input", "change"]) $(id).addEventListener(kind, renderArchive);
  }
  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); runSearch($("search-q").value); });
  $("ingest-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      followJob(await api("/api/ingest", { method: "POST", json: true, body: JSON.stringify({ path: $("ingest-path").value, collection: collection() }) }));
    } catch (error) { $("ingest-status").textContent = error.message; $("ingest-status").className = "error"; }
  });
  $("upload-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    let stored = null;
    try {
      for (const file of $("upload-files").files) {
        const params = new URLSearchParams({ name: file.name });
        if (collection()) params.set("collection", collection());
        stored = await api(`/api/upload?${params}`, { method: "PUT", body: file });
      }
      if (stored) {
        followJob(await api("/api/ingest", { method: "POST", json: true, body: JSON.stringify({ path: stored.folder, collection: collection() }) }));
      }
    } catch (error) { $("ingest-status").textContent = error.message; $("ingest-status").className = "error"; }
  });
  $("token-form").addEventListener("submit", () => { localStorage.setItem("rag-token", $("token-input").value); location.reload(); });
  loadCollections().then(loadSessions).catch(() => {});
}

init();
