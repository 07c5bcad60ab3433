//! The physical layout of a county's tables: attribute names, key attributes and
//! index names. The generator (`acme-stacks`) builds the tables from these
//! constants and the functions read and write with them, so the two can't drift.

/// Orders by customer: the order summary, and the item every GSI hangs off.
pub mod orders {
    /// Logical name used for the table's CloudFormation logical id and outputs.
    pub const LOGICAL: &str = "Orders";
    /// HASH key: the customer's id.
    pub const PK: &str = "customer_id";
    /// RANGE key: `<created_at as fixed-width UTC millis>#<order_id>`, so a
    /// customer's orders sort by time and two orders in one millisecond don't collide.
    pub const SK: &str = "order_sk";

    /// GSI: orders by county and time. HASH is `<county_id>#<shard>` (write-sharded).
    pub const GSI_COUNTY: &str = "by-county-time";
    pub const COUNTY_SHARD_PK: &str = "county_shard";
    /// GSI: orders by store and time. HASH is the store id (naturally spread).
    pub const GSI_STORE: &str = "by-store-time";
    pub const STORE_PK: &str = "store_id";
    /// GSI: in-flight orders by status and time (sparse). HASH is `<STATUS>#<shard>`,
    /// present only while an order is PENDING, RESERVED or CONFIRMED (awaiting pick/pack).
    pub const GSI_STATUS: &str = "by-status-time";
    pub const STATUS_SHARD_PK: &str = "status_shard";
    /// All three GSIs sort on the base table's sort key.
    pub const GSI_SK: &str = SK;
    /// Attributes projected into the GSIs (besides keys): enough to list orders
    /// without a read of the base table.
    pub const GSI_PROJECTED: &[&str] = &["order_id", "status", "total_cents", "created_at"];

    /// Summary attributes of an Orders item (besides the keys above).
    pub const ORDER_ID: &str = "order_id";
    pub const COUNTY_ID: &str = "county_id";
    pub const STATUS: &str = "status";
    pub const TOTAL_CENTS: &str = "total_cents";
    /// Units (sum of quantities) of the order: what the worker's fraud
    /// screening sums over a customer's day without reading each record.
    /// Absent on items written before it existed.
    pub const UNITS: &str = "units";
    pub const CREATED_AT: &str = "created_at";
    pub const UPDATED_AT: &str = "updated_at";
    /// Mirrors the OrderById record's version; status writes check it on both items.
    pub const VERSION: &str = "version";
}

/// Orders by id: the full order record (line items, prices, status history).
/// Its stream (new and old images) is where order events come from.
pub mod order_by_id {
    pub const LOGICAL: &str = "OrderById";
    pub const PK: &str = "order_id";
    /// The record's attributes are the fields of `order::Order`, by name.
    pub const STATUS: &str = "status";
    /// Optimistic-lock counter: every write is conditional on the previous value.
    pub const VERSION: &str = "version";
}

/// Stock per store and SKU, and the reservation ledger.
/// Stock record: `store_id`, `item_key = "STOCK#<sku>"`.
/// Reservation:  `store_id`, `item_key = "RES#<sku>#<order_id>"`.
pub mod inventory {
    pub const LOGICAL: &str = "Inventory";
    pub const PK: &str = "store_id";
    pub const SK: &str = "item_key";
    // No TTL attribute: nothing in Inventory expires. A reservation leaves
    // the table only in the transaction that returns its units.

    /// `item_key` prefix of stock records.
    pub const STOCK_PREFIX: &str = "STOCK";
    /// `item_key` prefix of reservation ledger entries.
    pub const RESERVATION_PREFIX: &str = "RES";
    pub const SKU: &str = "sku";
    /// Stock record: units that can still be reserved (never negative).
    pub const AVAILABLE: &str = "available";
    /// Stock record: unit price in cents; the only source of prices.
    pub const PRICE_CENTS: &str = "price_cents";
    /// Reservation: the order holding the units, and how many.
    pub const ORDER_ID: &str = "order_id";
    pub const QUANTITY: &str = "quantity";
    /// Reservation: `RESERVED` until the order is paid, then `CONFIRMED`.
    pub const STATE: &str = "state";
    pub const CREATED_AT: &str = "created_at";
}

/// Idempotency records for `POST /orders`: `<customer_id>#<client_request_id>`.
pub mod idempotency {
    pub const LOGICAL: &str = "Idempotency";
    pub const PK: &str = "idempotency_key";
    /// Epoch seconds; DynamoDB TTL removes the record after this.
    pub const TTL: &str = "expires_at";
    /// SHA-256 (hex) of the canonical request body.
    pub const REQUEST_HASH: &str = "request_hash";
    /// The first answer, as JSON, replayed verbatim to retries.
    pub const RESPONSE: &str = "response";
    pub const ORDER_ID: &str = "order_id";
    pub const CREATED_AT: &str = "created_at";
}

/// Customer PII (e-mail, name, phone, date of birth), on its own KMS key.
/// One item per customer, keyed by the same customer id the Orders table uses;
/// no other table holds any of these attributes.
pub mod customers {
    pub const LOGICAL: &str = "Customers";
    pub const PK: &str = "customer_id";
    /// PII attributes; each absent when unknown (a migrated customer's NULLs).
    pub const EMAIL: &str = "email";
    pub const FULL_NAME: &str = "full_name";
    pub const PHONE: &str = "phone";
    /// `YYYY-MM-DD`, a calendar date (no time zone).
    pub const BIRTH_DATE: &str = "birth_date";
    /// RFC 3339 UTC; `updated_at` also guards concurrent profile writes.
    pub const CREATED_AT: &str = "created_at";
    pub const UPDATED_AT: &str = "updated_at";
    /// A migrated customer's number in the legacy database (`N`).
    pub const LEGACY_CUSTOMER_ID: &str = "legacy_customer_id";
}

/// Environment variables the stack sets on every function.
pub mod env {
    pub const COUNTY_ID: &str = "ACME_COUNTY_ID";
    pub const ORDERS_TABLE: &str = "ACME_ORDERS_TABLE";
    pub const ORDER_BY_ID_TABLE: &str = "ACME_ORDER_BY_ID_TABLE";
    pub const INVENTORY_TABLE: &str = "ACME_INVENTORY_TABLE";
    pub const IDEMPOTENCY_TABLE: &str = "ACME_IDEMPOTENCY_TABLE";
    pub const CUSTOMERS_TABLE: &str = "ACME_CUSTOMERS_TABLE";
    pub const ORDER_QUEUE_URL: &str = "ACME_ORDER_QUEUE_URL";
    pub const EVENT_BUS_NAME: &str = "ACME_EVENT_BUS_NAME";
    pub const NOTIFICATIONS_TOPIC_ARN: &str = "ACME_NOTIFICATIONS_TOPIC_ARN";
    /// JSON of the county's sale rules (sales enabled, time zone, hours, limits).
    pub const COUNTY_RULES: &str = "ACME_COUNTY_RULES";
    pub const GSI_WRITE_SHARDS: &str = "ACME_GSI_WRITE_SHARDS";
    /// The county's payment provider by name ([`crate::payment::PaymentProvider`]),
    /// from `payment.provider` in its county file. Unset when the file chooses
    /// none: the order API and the worker then refuse to start.
    pub const PAYMENT_PROVIDER: &str = "ACME_PAYMENT_PROVIDER";
    /// Provider `card_api` only (from `payment:` in the county file): the
    /// API's base URL (`https://` only), the Secrets Manager secret holding
    /// its API key, and the limits in [`crate::payment::card_api`].
    pub const PAYMENT_API_URL: &str = "ACME_PAYMENT_API_URL";
    pub const PAYMENT_API_KEY_SECRET_ARN: &str = "ACME_PAYMENT_API_KEY_SECRET_ARN";
    pub const PAYMENT_CONNECT_TIMEOUT_MS: &str = "ACME_PAYMENT_CONNECT_TIMEOUT_MS";
    pub const PAYMENT_REQUEST_TIMEOUT_MS: &str = "ACME_PAYMENT_REQUEST_TIMEOUT_MS";
    pub const PAYMENT_MAX_ATTEMPTS: &str = "ACME_PAYMENT_MAX_ATTEMPTS";
    pub const PAYMENT_CALL_BUDGET_MS: &str = "ACME_PAYMENT_CALL_BUDGET_MS";
    /// The SSM parameter holding a migrating county's cutover mode
    /// ([`crate::migration::mode_parameter`]). Unset for a county without a
    /// `migration:` section: it has no legacy system to defer to.
    pub const CUTOVER_MODE_PARAMETER: &str = "ACME_CUTOVER_MODE_PARAMETER";
    /// The legacy-sync function's: the Secrets Manager secret holding the
    /// legacy database's connection (an RDS secret's JSON or a libpq URL).
    pub const LEGACY_DB_SECRET_ARN: &str = "ACME_LEGACY_DB_SECRET_ARN";
    /// The legacy-sync function's: the queue of stream records it could not
    /// map (with the reason), also its event source's on-failure destination.
    pub const LEGACY_SYNC_DLQ_URL: &str = "ACME_LEGACY_SYNC_DLQ_URL";
    /// The legacy-sync function's, optional: a PEM file of the CAs the
    /// database's certificate chains to (the RDS bundle), instead of the
    /// system's roots.
    pub const LEGACY_DB_CA_FILE: &str = "ACME_LEGACY_DB_CA_FILE";
    /// The county's ShadowReads queue, where the order API sends the sample
    /// of its answers `acme-infra migrate shadow` compares with the legacy
    /// database. Set on the order API only, and only for a county with a
    /// `migration:` section.
    pub const SHADOW_READS_QUEUE_URL: &str = "ACME_SHADOW_READS_QUEUE_URL";
    /// The percent of reads sampled in mode `shadow` (0 to 100), from
    /// `migration.shadow.sample_percent`. Set with the queue's URL.
    pub const SHADOW_SAMPLE_PERCENT: &str = "ACME_SHADOW_SAMPLE_PERCENT";
    /// Seconds a PENDING order waits before the sweeper sends it to the
    /// worker again, from `sweeper.stuck_after_minutes` in the county file.
    /// Set on the order sweeper only.
    pub const STUCK_AFTER_SECONDS: &str = "ACME_STUCK_AFTER_SECONDS";
}
