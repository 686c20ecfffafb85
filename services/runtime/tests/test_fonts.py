"""The shared Chinese font: located in the installed package, registered with reportlab once under its stable name,
and a clear error when the package (or its font file) is missing."""

from __future__ import annotations

from pathlib import Path

import pytest
from reportlab.pdfbase import pdfmetrics

from services.runtime import fonts


def test_the_font_file_comes_from_the_installed_package():
    path = Path(fonts.cjk_font_file())
    assert path.is_file() and path.name == "wqy-microhei.ttc"
    assert "paperang_p2_fonts_cjk" in path.parts
    assert path.read_bytes()[:4] == b"ttcf"  # a TrueType collection


def test_the_font_is_registered_once_under_its_stable_name():
    name = fonts.cjk_font()
    assert name == "WenQuanYi-MicroHei" and name in pdfmetrics.getRegisteredFontNames()
    registered = pdfmetrics.getFont(name)
    assert fonts.cjk_font() == name and pdfmetrics.getFont(name) is registered  # not registered again
    assert pdfmetrics.stringWidth("控辍保学", name, 10) == pytest.approx(40)  # CJK glyphs, 1 em each


def test_a_missing_package_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(fonts, "PACKAGE", "baoxue_no_such_font_package")
    with pytest.raises(fonts.FontMissing, match="pip install paperang-p2-fonts-cjk"):
        fonts.cjk_font_file()


def test_a_package_without_its_font_file_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(fonts, "FONT_FILE", ("fonts", "no-such-font.ttc"))
    with pytest.raises(fonts.FontMissing, match="no-such-font.ttc is missing"):
        fonts.cjk_font_file()
