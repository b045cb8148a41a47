from tests.algorithms.behaviour import RecommenderBehaviour


class TestItemKNNCosine(RecommenderBehaviour):
    family = "item_knn"
    params = {"similarity": "cosine", "neighbours": 20}


class TestItemKNNBM25(RecommenderBehaviour):
    family = "item_knn"
    params = {"similarity": "bm25", "neighbours": 20}
