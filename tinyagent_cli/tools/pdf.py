"""PDF summaries shared by both backends: pypdf text extraction + extractive summary.

The summary keeps the document's own sentences: each sentence is scored by the TF-IDF
weight of its content words (term frequency over the whole text, inverse frequency over
sentences, so words that run through the document count and filler does not), the best
``max_sentences`` are kept, in the order they appear.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

from ..errors import ToolError, ToolUnavailable

MAX_PAGES = 300  # a summary of the first 300 pages is a summary; a 5000-page PDF must not hang
MAX_CHARS = 2_000_000
MAX_SENTENCE_CHARS = 600  # longer "sentences" are tables or lists run together; cut them

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)
_HYPHEN_BREAK = re.compile(r"(\w)-\n(\w)")
_STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves may might must shall one two per via within without upon""".split()
)


def extract_pdf_text(path: Path) -> str:
    """The text of a PDF, pages joined; ToolError saying why when there is none to get."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ToolError(f"no file at {path}")
    if not path.is_file():
        raise ToolError(f"{path} is a folder, not a PDF")
    try:
        with path.open("rb") as handle:
            head = handle.read(1024)
    except OSError as exc:
        raise ToolError(f"cannot read {path}: {exc.strerror or exc}") from None
    if b"%PDF-" not in head:
        raise ToolError(f"{path.name} is not a PDF (no %PDF header)")

    import logging

    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # pypdf warns on every slightly odd file
    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            # Many PDFs are "encrypted" with an empty user password only to set permissions.
            try:
                opened = reader.decrypt("")
            except DependencyError:
                raise ToolUnavailable(f"{path.name} is AES-encrypted; install 'cryptography' to open it") from None
            if not opened:
                raise ToolError(f"{path.name} is password-protected; open it with its password and save a copy")
        parts: list[str] = []
        size = 0
        for page in reader.pages[:MAX_PAGES]:
            text = page.extract_text() or ""
            parts.append(text)
            size += len(text)
            if size >= MAX_CHARS:
                break
    except FileNotDecryptedError:
        raise ToolError(f"{path.name} is password-protected; open it with its password and save a copy") from None
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        # pypdf signals many kinds of damage with plain built-in exceptions.
        raise ToolError(f"{path.name} is damaged and cannot be read ({type(exc).__name__}: {exc})") from None
    text = "\n".join(parts)
    if not text.strip():
        raise ToolError(f"{path.name} has no text layer (a scanned PDF?); run OCR on it first, e.g. ocrmypdf")
    return text


def split_sentences(text: str) -> list[str]:
    """Sentences of extracted text, line breaks and hyphenation undone."""
    text = _HYPHEN_BREAK.sub(r"\1\2", text)
    text = " ".join(text.split())
    sentences = []
    for raw in _SENTENCE_END.split(text):
        sentence = raw.strip()
        if len(sentence) > MAX_SENTENCE_CHARS:
            sentence = sentence[:MAX_SENTENCE_CHARS].rsplit(" ", 1)[0] + " …"
        if sentence:
            sentences.append(sentence)
    return sentences


def _words(sentence: str) -> list[str]:
    return [w for w in (m.casefold() for m in _WORD.findall(sentence)) if w not in _STOPWORDS]


def extractive_summary(text: str, max_sentences: int = 5) -> str:
    """The ``max_sentences`` most representative sentences, in document order; never empty."""
    sentences = split_sentences(text)
    if not sentences:
        raise ToolError("there is no text to summarise")
    if len(sentences) <= max_sentences:
        return " ".join(sentences)
    words = [_words(s) for s in sentences]
    term_freq = Counter(w for ws in words for w in ws)
    doc_freq = Counter(w for ws in words for w in set(ws))
    n = len(sentences)
    weight = {w: term_freq[w] * math.log(1 + n / doc_freq[w]) for w in term_freq}

    def score(i: int) -> float:
        # Mean weight, damped by length so a run-on sentence does not win by size alone,
        # and sentences too short to say anything ("Page 3.") count for little.
        ws = words[i]
        if len(ws) < 3:
            return 0.0
        return sum(weight[w] for w in set(ws)) / math.sqrt(len(ws))

    best = sorted(range(n), key=lambda i: (-score(i), i))[: max(1, max_sentences)]
    return " ".join(sentences[i] for i in sorted(best))


def summarize_pdf_file(path: Path, max_sentences: int = 5) -> str:
    """An extractive summary of the PDF at ``path``; ToolError for files it cannot read."""
    return extractive_summary(extract_pdf_text(path), max_sentences)
