"""OPEN-2: the rules exam. The bank is data (models/exam/questions.toml), written from RULES.md.

A paper is drawn from a seed made of workflow data (member id and attempt number), so the same
attempt always gets the same paper, whoever runs the activity and however often it is retried.
Grading reads the answer key from the bank; the key never leaves this module.
"""

from __future__ import annotations

import hashlib
import random
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from temporalio import activity

from models.activity_io import DrawExamInput, DrawnExam, ExamGrade, ExamPaper, GradeExamInput
from models.contract import ExamPaperView, ExamQuestionView

BANK_FILE = Path(__file__).resolve().parent.parent / "models" / "exam" / "questions.toml"


@dataclass(frozen=True)
class Question:
    id: str
    rule: str
    text: str
    options: tuple[str, ...]
    answer: int


@cache
def bank() -> tuple[str, dict[str, Question]]:
    """(version, questions by id); the version is the file's digest, recorded on every paper."""
    raw = BANK_FILE.read_bytes()
    questions = {}
    for q in tomllib.loads(raw.decode())["question"]:
        question = Question(q["id"], q["rule"], q["text"], tuple(q["options"]), q["answer"])
        if question.id in questions or not 0 <= question.answer < len(question.options):
            raise ValueError(f"exam bank: bad question {question.id!r}")
        questions[question.id] = question
    return hashlib.sha256(raw).hexdigest()[:12], questions


def draw(seed: str, n: int, attempt: int, pass_mark: int = 0) -> DrawnExam:
    version, questions = bank()
    rng = random.Random(f"{version}:{seed}")
    ids = rng.sample(sorted(questions), min(n, len(questions)))
    orders = []
    views = []
    for number, qid in enumerate(ids, start=1):
        q = questions[qid]
        order = list(range(len(q.options)))
        rng.shuffle(order)
        orders.append(order)
        views.append(ExamQuestionView(number, q.rule, q.text, [q.options[i] for i in order]))
    paper_id = hashlib.sha256(f"{version}:{seed}".encode()).hexdigest()[:16]
    return DrawnExam(
        paper=ExamPaper(paper_id=paper_id, bank_version=version, question_ids=ids, option_orders=orders),
        view=ExamPaperView(paper_id=paper_id, attempt=attempt, pass_mark=pass_mark, questions=views),
    )


@activity.defn
def draw_exam_paper(inp: DrawExamInput) -> DrawnExam:
    return draw(inp.seed, inp.questions, inp.attempt)


@activity.defn
def grade_exam(inp: GradeExamInput) -> ExamGrade:
    """Score out of 100; an unanswered or out-of-range answer is wrong."""
    _, questions = bank()
    correct = 0
    for qid, order, answer in zip(inp.paper.question_ids, inp.paper.option_orders, inp.answers, strict=False):
        if 0 <= answer < len(order) and order[answer] == questions[qid].answer:
            correct += 1
    total = len(inp.paper.question_ids)
    return ExamGrade(score=round(100 * correct / total) if total else 0, correct=correct, total=total)


def answer_key(paper: ExamPaper) -> list[int]:
    """The right answers as shown on this paper: for tests, demos and the bench, never for sellers."""
    _, questions = bank()
    return [
        order.index(questions[qid].answer)
        for qid, order in zip(paper.question_ids, paper.option_orders, strict=True)
    ]
