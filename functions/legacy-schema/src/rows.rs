//! The legacy database's rows as the migration reads them and the
//! legacy-sync function writes them: one definition of the legacy schema
//! (`migrate/sql/legacy-schema.sql`) for both directions. Values are text
//! where their exact form matters: amounts as `numeric` text, the local
//! `placed_at` as an ISO wall-clock string, instants as microseconds.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyStore {
    pub store_id: String,
    pub name: String,
    pub timezone: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyCustomer {
    pub customer_id: i64,
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub phone: Option<String>,
    /// `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    pub created_at_us: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyLine {
    pub line_no: i32,
    pub sku: String,
    pub quantity: i32,
    /// `numeric(10,2)` text.
    pub unit_price: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyOrder {
    pub order_id: i64,
    pub client_request_id: Option<String>,
    pub customer_id: i64,
    pub store_id: String,
    pub status: String,
    /// `numeric(12,2)` text.
    pub total: String,
    pub currency: String,
    pub payment_ref: Option<String>,
    /// The store's wall clock, `YYYY-MM-DDTHH:MM:SS.ffffff`.
    pub placed_at: String,
    pub updated_at_us: i64,
    /// By `line_no`.
    pub lines: Vec<LegacyLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyStock {
    pub store_id: String,
    pub sku: String,
    pub on_hand: i32,
    pub reserved: i32,
    /// `numeric(10,2)` text.
    pub price: String,
    pub updated_at_us: i64,
}
