"""``hoso.db.fold``: its short way (a table of Latin letters with diacritics) gives what decomposing gives."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from hoso.db import _fold_decomposed, fold

VIETNAMESE = "aăâbcdđeêghiklmnoôơpqrstuưvxyAĂÂBCDĐEÊGHIKLMNOÔƠPQRSTUƯVXY"
TONES = "\u0300\u0301\u0303\u0309\u0323"
LETTERS = st.sampled_from([unicodedata.normalize("NFC", c + m) for c in VIETNAMESE for m in ["", *TONES]])
ANY = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
NAMES = st.lists(st.one_of(LETTERS, st.sampled_from([" ", "\t", "  ", "\n", ".", "-", "1", *TONES, "ß", "Ø", "İ"])),
                 max_size=40).map("".join)


@settings(max_examples=3000)
@given(text=st.one_of(ANY, NAMES, NAMES.map(lambda s: unicodedata.normalize("NFD", s))))
def test_the_short_way_folds_as_decomposing_does(text):
    assert fold(text) == _fold_decomposed(text)


def test_vietnamese_folds_to_plain_letters():
    assert fold("  Nguyễn\tVăn  KHÁNH ") == "nguyen van khanh"
    assert fold("Đặng Hữu Đức") == "dang huu duc"
    assert fold("Sở Tư pháp tỉnh Trà Vinh") == "so tu phap tinh tra vinh"
    assert fold("Nguye\u0302\u0303n") == "nguyen"  # decomposed input
