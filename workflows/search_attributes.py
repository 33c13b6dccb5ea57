"""Typed search attributes operators filter on in the Web UI (not named `Status`: the UI uses it)."""

from temporalio.common import SearchAttributeKey

SELLER_STATE = SearchAttributeKey.for_keyword("SellerState")
MEMBER_ID = SearchAttributeKey.for_keyword("MemberId")
REGION = SearchAttributeKey.for_keyword("Region")
PENALTY_POINTS = SearchAttributeKey.for_int("PenaltyPoints")
PRODUCT_COUNT = SearchAttributeKey.for_int("ProductCount")
OPEN_CASE = SearchAttributeKey.for_bool("OpenCase")  # a live account with an undecided ASSOC-4 case
CLOSED_REASON = SearchAttributeKey.for_keyword("ClosedReason")  # set once the account is closed
# A step ran out of retries (workflows/effects.py): the account lives on, an operator should look.
NEEDS_ATTENTION = SearchAttributeKey.for_bool("NeedsAttention")
# The review queue (issue 25, workflows/reviews.py): kinds of the open items, the earliest due time
# of an open item (kept once none is open: filter on ReviewKinds), and whether an item is past it.
# The queue: `ReviewKinds IN ('appeal', 'photo_review', 'association', 'needs_attention')`, by ReviewDueAt.
REVIEW_KINDS = SearchAttributeKey.for_keyword_list("ReviewKinds")
REVIEW_DUE_AT = SearchAttributeKey.for_datetime("ReviewDueAt")
REVIEW_OVERDUE = SearchAttributeKey.for_bool("ReviewOverdue")

ALL = (
    SELLER_STATE,
    MEMBER_ID,
    REGION,
    PENALTY_POINTS,
    PRODUCT_COUNT,
    OPEN_CASE,
    CLOSED_REASON,
    NEEDS_ATTENTION,
    REVIEW_KINDS,
    REVIEW_DUE_AT,
    REVIEW_OVERDUE,
)
ALL_NAMES = tuple(k.name for k in ALL)


# The `temporal` CLI's name of each indexed value type (dev server flags, docker-compose's one-shot).
CLI_TYPES = {
    "KEYWORD": "Keyword",
    "INT": "Int",
    "BOOL": "Bool",
    "KEYWORD_LIST": "KeywordList",
    "DATETIME": "Datetime",
}


def cli_type(key: SearchAttributeKey) -> str:  # type: ignore[type-arg]
    return CLI_TYPES[key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_")]


def dev_server_args() -> list[str]:
    """`--search-attribute Name=Type` flags that register these on `temporal server start-dev`."""
    args: list[str] = []
    for key in ALL:
        args += ["--search-attribute", f"{key.name}={cli_type(key)}"]
    return args
