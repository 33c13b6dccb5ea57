"""Named sizes shared by the message declarations (models/boundary.py) and the database columns
(models/tables.py): one source of truth, so a value the boundary lets in can always be stored.

Derived columns count what the workflow adds: the audit `actor` holds `operator:<name>`, notice keys
hold `case-<case id>`, so the names and ids that feed them are that much shorter.
"""

MEMBER_ID = 32
WORKFLOW_ID = 64
REQUEST_ID = 64  # registration request ids: Account.registration_id
STATE = 16
RULE = 16  # "ENF-2", "ASSOC-4": the audit, link and notice `rule` columns
EVENT = 32
REASON = 64  # audit reason codes
ACTOR = 64
OPERATOR_PREFIX = "operator:"
OPERATOR_NAME = ACTOR - len(OPERATOR_PREFIX)  # the actor column holds the prefix too
POLICY_VERSION = 32
CLOSED_REASON = 32

NOTICE_KEY = 96
NOTICE_KIND = 32
NOTICE_MESSAGE = 500
CASE_NOTICE_PREFIX = "case-"
CASE_ID = 64  # notice key `case-<case id>` stays within NOTICE_KEY
REVIEW_ITEM_ID = 96  # `<kind>-<ref>` (models/review.py): `appeal-<case id>` at the longest
CAUSE = 32  # case cause: AccountLink.reason, audit reason
LINK_EVIDENCE = 128

STORE_NAME = 64
REGION = 8
REPORT_ID = 64  # violation and closure report ids (kept in the workflow to count each once)
EVIDENCE_REF = 256
SERVICE_NAME = 64
DEVICE_ID = 128
IP_ADDRESS = 45

PRODUCT_ID = 48
PRODUCT_TITLE = 200
PRODUCT_DESCRIPTION = 5000
PRODUCT_CATEGORY = 32
PRICE = 16
BLOB_REF = 80

EMAIL = 254
MOBILE = 32
DOCUMENT_NUMBER = 64  # licence and ID card numbers (stored only as fingerprints)
EMAIL_CODE = 16
FREE_TEXT = 5000  # letters, notes
APPEAL_OPENING_INFO = 2000  # ASSOC-5 store-opening information (the workflow always refused more)
NOTE = 2000
PAPER_ID = 64
EXAM_ANSWERS = 200
LIST_ITEMS = 10_000  # ban chains, and other lists the workflow keeps

# ENF-2 points of one violation: far above any closing threshold, far below a 64-bit search attribute.
POINTS_MAX = 1_000

REVIEW_ITEM_ID = 96  # `<kind>-<ref>` (models/review.py)
ACCESS_WHAT = 48  # what an evidence access log row says was seen or done
