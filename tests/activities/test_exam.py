"""OPEN-2: the question bank and the paper draw and grading."""

from __future__ import annotations

import re
from pathlib import Path

from activities.exam import answer_key, bank, draw, grade_exam
from models.activity_io import GradeExamInput

RULES = Path(__file__).resolve().parents[2] / "docs" / "RULES.md"


def test_the_bank_has_forty_questions_each_citing_a_rule_of_the_rulebook() -> None:
    _, questions = bank()
    assert len(questions) >= 40
    known = set(re.findall(r"\*\*((?:REG|OPEN|ASSOC|ENF)-\d+)", RULES.read_text()))
    for q in questions.values():
        assert re.fullmatch(r"(REG|OPEN|ASSOC|ENF)-\d+", q.rule), q.id
        assert q.rule in known, f"{q.id} cites {q.rule}, which docs/RULES.md does not have"
        assert len(set(q.options)) == len(q.options) == 4, q.id
    cited = {q.rule for q in questions.values()}
    assert len(cited) >= 20, "the exam covers most of the rulebook"


def test_a_paper_is_the_same_for_the_same_attempt_and_fresh_for_the_next() -> None:
    first = draw("MABC:1", 20, 1)
    again = draw("MABC:1", 20, 1)
    second = draw("MABC:2", 20, 2)
    assert first == again
    assert first.paper.question_ids != second.paper.question_ids
    assert len(set(first.paper.question_ids)) == 20
    # Options are shuffled: across a paper, the right answer is not always in the same place.
    assert len(set(answer_key(first.paper))) > 1


def test_grading_counts_right_answers_out_of_one_hundred() -> None:
    paper = draw("MXYZ:1", 20, 1).paper
    key = answer_key(paper)
    assert grade_exam(GradeExamInput(paper, key)).score == 100
    wrong = [(k + 1) % 4 for k in key]
    assert grade_exam(GradeExamInput(paper, wrong)).score == 0
    sixteen = key[:16] + wrong[16:]
    assert grade_exam(GradeExamInput(paper, sixteen)).score == 80
    assert grade_exam(GradeExamInput(paper, [99] * 20)).score == 0
