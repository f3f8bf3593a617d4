"""Statements said once: identical or near-identical texts of several branches are one."""

from __future__ import annotations

import difflib
import re
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from tonghop.report.statements import NEAR, group_statements, normalise

WORDS = st.sampled_from(
    ["sinh", "hoạt", "chi", "bộ", "đều", "đặn", "kết", "nạp", "đảng", "viên", "hỗ", "trợ", "2", "3"]
)
SENTENCES = st.lists(WORDS, min_size=1, max_size=12).map(" ".join)
NAMES = [f"Chi bộ {i}" for i in range(12)]


def test_case_spaces_and_punctuation_do_not_matter():
    groups = group_statements(
        [
            ("A", "Đề nghị hỗ trợ kinh phí sửa nhà văn hóa."),
            ("B", "  ĐỀ NGHỊ hỗ trợ   kinh phí, sửa nhà văn hóa!"),
            ("C", "Kết nạp 2 đảng viên."),
        ]
    )
    assert [(g.text, g.branches) for g in groups] == [
        ("Đề nghị hỗ trợ kinh phí sửa nhà văn hóa.", ["A", "B"]),
        ("Kết nạp 2 đảng viên.", ["C"]),
    ]


def test_near_identical_statements_are_one_but_different_figures_are_not():
    groups = group_statements(
        [
            ("A", "Sinh hoạt chi bộ có lúc chưa đều, nội dung chưa phong phú."),
            ("B", "Sinh hoạt chi bộ có lúc chưa đều, nội dung sinh hoạt chưa phong phú."),
            ("C", "Phấn đấu kết nạp 2 đảng viên trong năm."),
            ("D", "Phấn đấu kết nạp 3 đảng viên trong năm."),
            ("E", "Giữ vững an ninh trật tự trên địa bàn."),
        ]
    )
    assert [g.branches for g in groups] == [["A", "B"], ["C"], ["D"], ["E"]]


def test_empty_statements_and_repeats_of_one_branch():
    groups = group_statements([("A", " . "), ("A", "Tốt."), ("A", "tốt"), ("B", "")])
    assert [(g.text, g.branches) for g in groups] == [("Tốt.", ["A"])]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(NAMES), SENTENCES, st.sampled_from(["", ".", "!", ";", "  "])),
        max_size=30,
    ),
    st.randoms(use_true_random=False),
)
def test_every_statement_is_said_once_and_every_branch_kept(said, rng):
    items = []
    for name, sentence, tail in said:
        variant = sentence.upper() if rng.random() < 0.3 else sentence
        items.append((name, f" {variant}{tail} "))
    groups = group_statements(items)
    for name, text in items:
        key = normalise(text)
        holding = [g for g in groups if key in g.variants]
        assert len(holding) == 1  # a statement is never split across groups
        assert name in holding[0].branches
    for g in groups:
        assert len(g.branches) == len(set(g.branches))
        for variant in g.variants:  # near-identical, with the same figures
            assert re.findall(r"\d+", variant) == re.findall(r"\d+", g.key)
            assert difflib.SequenceMatcher(None, g.key, variant, autojunk=False).ratio() >= NEAR
    # groups come in the order their first statement came
    keys = [normalise(text) for _, text in items]
    order = [keys.index(g.key) for g in groups]
    assert order == sorted(order)
    assert {n for g in groups for n in g.branches} == {n for n, t in items if normalise(t)}


@given(st.text(alphabet=string.punctuation + " \t\n", max_size=20))
def test_punctuation_alone_says_nothing(text):
    assert group_statements([("A", text)]) == []
