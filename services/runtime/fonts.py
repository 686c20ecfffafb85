"""The Chinese font every printed PDF embeds: WenQuanYi Micro Hei (文泉驿微米黑, TrueType collection) from the PyPI
package ``paperang-p2-fonts-cjk``, registered with reportlab under one stable name, so a document is subset-embedded
(``FontFile2``) and any viewer shows its glyphs without a Chinese font of its own.

``cjk_font()`` registers it once per process (thread-safe) and returns the name to set text in; ``cjk_font_file()``
is the file's path. The name is what casework records as a document's typeface, so it never changes; the bytes of
a PDF depend on the font file (the package's pinned version) and the sub-font index (casework re-renders issued
documents to their recorded sha256). A missing package or font file is ``FontMissing`` naming what to install.
"""

from __future__ import annotations

import threading
from importlib.resources import files
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

CJK_FONT = "WenQuanYi-MicroHei"  # the reportlab name (casework's documents record it as their typeface)
PACKAGE = "paperang_p2_fonts_cjk"  # the import name of the PyPI package paperang-p2-fonts-cjk
FONT_FILE = ("fonts", "wqy-microhei.ttc")
SUBFONT = 0  # the collection's first face, 文泉驿微米黑 (index 1 is WenQuanYi Micro Hei Mono)

_lock = threading.Lock()


class FontMissing(RuntimeError):
    """The font package is not installed (or lacks its font file): PDFs cannot be rendered."""


def cjk_font_file() -> str:
    """The path of WenQuanYi Micro Hei as installed by pip."""
    try:
        path = Path(str(files(PACKAGE).joinpath(*FONT_FILE)))
    except ModuleNotFoundError:
        raise FontMissing(f"the Chinese font package is not installed: pip install paperang-p2-fonts-cjk "
                          f"(import name {PACKAGE}; pinned in pyproject.toml)") from None
    if not path.is_file():
        raise FontMissing(f"the font file {'/'.join(FONT_FILE)} is missing from the installed package {PACKAGE} "
                          f"({path}): reinstall paperang-p2-fonts-cjk at the version pinned in pyproject.toml")
    return str(path)


def cjk_font() -> str:
    """The font registered with reportlab (once per process) under ``CJK_FONT``; returns that name."""
    with _lock:
        if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(CJK_FONT, cjk_font_file(), subfontIndex=SUBFONT))
    return CJK_FONT
