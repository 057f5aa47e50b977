"""The web chat. `python ui.py` (or `rag serve`) serves it on 127.0.0.1:7860 by default.

The index is built on first use; settings come from `RAG_*` / rag.toml (see `rag info`).
"""

from rag.config import read_settings
from rag.webui import build_demo, serve

settings = read_settings()
demo = build_demo(settings)

if __name__ == "__main__":
    serve(settings, demo)
