"""What an event is indexed under for search: data fields (case-insensitive values) and words;
never secrets (by key or by value shape), and capped per event."""

from __future__ import annotations

from joelclaw.events.index import MAX_FIELDS, MAX_WORDS, query_terms, terms


def test_fields_and_words_of_an_event() -> None:
    found = terms({"name": "shop/order.paid", "data": {
        "order_id": "O-1", "customer": {"email": "a@b.c"}, "items": [{"sku": "X1"}, {"sku": "Y2"}],
        "paid": True, "note": "first refund request"}})
    assert {"f:order_id=o-1", "f:customer.email=a@b.c", "f:items.sku=x1", "f:items.sku=y2",
            "f:paid=true", "f:note=first refund request"} <= set(found)
    assert {"w:shop", "w:order", "w:paid", "w:refund", "w:first"} <= set(found)


def test_secrets_are_never_indexed() -> None:
    found = terms({"name": "a/b", "data": {"password": "hunter2", "api_token": "x" * 10,
                                           "note": "Bearer abcdefghijklmnop"}},
                  secrets=("configured-secret",))
    text = " ".join(found)
    assert "hunter2" not in text and "xxxxxxxxxx" not in text and "abcdefghijklmnop" not in text
    assert "configured" not in " ".join(terms({"name": "a/b", "data": {
        "x": "it is configured-secret"}}, secrets=("configured-secret",)))


def test_terms_are_capped_per_event() -> None:
    data = {f"k{i}": f"word{i} other{i}" for i in range(200)}
    found = terms({"name": "a/b", "data": data})
    assert sum(t.startswith("f:") for t in found) == MAX_FIELDS
    assert sum(t.startswith("w:") for t in found) == MAX_WORDS


def test_queries_read_the_same_way() -> None:
    assert query_terms("data.Order_ID=O-1 Refund first") == [
        "f:order_id=o-1", "w:refund", "w:first"]
    assert query_terms("needle-42") == ["w:needle", "w:42"]
