"""Terminal rendering with Rich: answers, chat, ingest progress and eval reports. Only the CLI imports these."""
