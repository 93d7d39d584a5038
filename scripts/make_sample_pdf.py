"""Write corpus/slides/optimizers.pdf: a small three-page slide deck for the sample corpus.

Plain PDF syntax with the standard Helvetica font, so no PDF library is needed to regenerate it:
    python scripts/make_sample_pdf.py
"""

from __future__ import annotations

from pathlib import Path

PAGES = [
    [
        "Optimizers for deep learning",
        "Machine Learning Seminar 2025 - slides for lecture 7",
        "Plain stochastic gradient descent (SGD) updates each weight by the",
        "learning rate times the gradient of the loss on a mini-batch.",
        "SGD is noisy and slow in ravines where one direction is much steeper.",
    ],
    [
        "Momentum",
        "Momentum keeps a running velocity: v = beta * v + gradient, w = w - lr * v.",
        "A typical momentum coefficient is beta = 0.9.",
        "It damps oscillations and speeds up progress along shallow directions.",
        "Nesterov momentum evaluates the gradient at the look-ahead point.",
    ],
    [
        "Adam",
        "Adam keeps running averages of the gradient and of its square.",
        "Default hyperparameters: beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8.",
        "A learning rate of 3e-4 is a common starting point for transformers.",
        "AdamW decouples weight decay from the gradient update.",
    ],
]


def build(pages: list[list[str]]) -> bytes:
    objects: list[bytes] = []
    n = len(pages)
    font_id = 3 + 2 * n
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode())
    for i, lines in enumerate(pages):
        content_id = 4 + 2 * i
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        ops = ["BT", "/F1 22 Tf", "72 720 Td", f"({lines[0]}) Tj", "/F1 12 Tf"]
        for line in lines[1:]:
            ops += ["0 -28 Td", f"({line}) Tj"]
        ops.append("ET")
        stream = "\n".join(ops).encode()
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


if __name__ == "__main__":
    target = Path(__file__).resolve().parents[1] / "corpus" / "slides" / "optimizers.pdf"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(build(PAGES))
    print(f"wrote {target}")
