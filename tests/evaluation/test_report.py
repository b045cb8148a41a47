"""The HTML report: one self-contained page with the table, the plots and nothing external."""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from recserve.evaluation.leaderboard import Leaderboard, ModelSpec, run_leaderboard
from recserve.evaluation.report import figures, render_html, write_html
from tests.synthetic import make_synthetic

SVG_NAMESPACE = "http://www.w3.org/2000/svg"


class Page(HTMLParser):
    """Collects what the tests look at: tags, ids, id references, table rows and cells."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: Counter[str] = Counter()
        self.ids: list[str] = []
        self.references: list[str] = []
        self.rows: list[list[tuple[str, str]]] = []  # (class, text) per cell
        self._cell: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        values = dict(attrs)
        if values.get("id"):
            self.ids.append(values["id"] or "")
        for name, value in attrs:
            if name in ("href", "xlink:href") and value and value.startswith("#"):
                self.references.append(value[1:])
            for ref in re.findall(r"url\(#([^)]+)\)", value or ""):
                self.references.append(ref)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = (values.get("class") or "", [])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append((self._cell[0], " ".join("".join(self._cell[1]).split())))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell[1].append(data)


@pytest.fixture(scope="module")
def board() -> Leaderboard:
    specs = [
        ModelSpec("popular", "popular"),
        ModelSpec("item_knn", "item_knn"),
        ModelSpec("tfidf", "tfidf"),
        ModelSpec("broken <knn>", "item_knn", {"neighbours": 0}),
    ]
    return run_leaderboard(make_synthetic(), specs, dataset_name="synthetic & co")


@pytest.fixture(scope="module")
def html(board: Leaderboard) -> str:
    return render_html(board, "Synthetic board")


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def test_page_holds_the_table_rows_and_plots(board: Leaderboard, html: str) -> None:
    page = parse(html)
    assert html.startswith("<!DOCTYPE html>") and "<title>Synthetic board</title>" in html
    assert page.tags["svg"] == 4 and html.count("<svg") == 4
    body_rows = [row for row in page.rows if row and row[0][1].isdigit()]
    assert [row[1][1] for row in body_rows] == [e.name for e in board.entries if e.ok]
    assert len(body_rows) == 3
    best = board.best()
    assert best is not None
    ndcg = f"{best.value('ndcg@10'):.4f}"
    first = body_rows[0]
    assert first[1][1] == best.name
    assert ("best", ndcg) in first  # the best value of the column is highlighted
    header = [text for _, text in page.rows[0]]
    for label in ("model", "family", "NDCG@10", "Recall@10", "MAP@10", "Cov@10", "fit"):
        assert label in header
    assert not any("@20" in label for label in header)  # one cut-off, though 20 was computed
    assert "synthetic &amp; co" in html and "leave_last_out" in html
    assert "broken &lt;knn&gt;" in html and "neighbours" in html  # failures listed, escaped
    assert "full ranking" in html and "sampled_" in html


def test_page_is_self_contained(html: str) -> None:
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    assert urls <= {SVG_NAMESPACE}
    lowered = html.lower()
    for external in ("<script", "<link", "<img", "<iframe", "@import", "src="):
        assert external not in lowered
    page = parse(html)
    duplicated = [i for i, n in Counter(page.ids).items() if n > 1]
    assert duplicated == []  # several inline SVGs share one id space
    assert set(page.references) <= set(page.ids)


def test_figures_and_sampled_section(tmp_path: Path) -> None:
    data = make_synthetic()
    board = run_leaderboard(data, [ModelSpec("item_knn", "item_knn")], sampled_negatives=10)
    path = write_html(board, tmp_path / "out" / "report.html")
    text = path.read_text(encoding="utf-8")
    for label in (
        "ndcg@10 per model",
        "fit time per model",
        "accuracy metrics at K=10",
        "accuracy against catalogue coverage",
    ):
        assert f'aria-label="{label}"' in text
    assert "Sampled metrics" in text and "sampled NDCG@10" in text


def test_a_board_where_everything_failed_still_renders() -> None:
    board = run_leaderboard(make_synthetic(), [ModelSpec("bad", "item_knn", {"neighbours": -1})])
    assert figures(board) == {}
    html = render_html(board, "nothing")
    assert "No model produced" in html and "<svg" not in html and "Models that failed" in html


def test_a_loaded_board_renders_the_same_table(board: Leaderboard, html: str) -> None:
    again = render_html(Leaderboard.from_json(board.to_json()), "Synthetic board")
    rows = [r for r in parse(again).rows if r and r[0][1].isdigit()]
    assert rows == [r for r in parse(html).rows if r and r[0][1].isdigit()]


def test_rating_columns_highlight_the_lowest_error() -> None:
    from recserve.algorithms import FAMILIES
    from tests.evaluation.test_leaderboard import FAKE, ItemMean

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(FAMILIES, FAKE, ItemMean)
        specs = [ModelSpec("mean", FAKE), ModelSpec("popular", "popular")]
        board = run_leaderboard(make_synthetic(), specs, split="random_holdout", metric="rmse")
        html = render_html(board)
    page = parse(html)
    header = [text for _, text in page.rows[0]]
    assert header[3:5] == ["RMSE", "NDCG@10"]  # the board's metric first
    mean = next(row for row in page.rows if len(row) > 1 and row[1][1] == "mean")
    rmse = f"{board.entries[0].metrics['rmse']:.4f}"
    assert mean[3] == ("best", rmse)
    assert "<title>recserve leaderboard: data set</title>" in html
