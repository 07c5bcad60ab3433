-- ACME's legacy order database, as it runs in production (PostgreSQL 15).
-- The migration's tests and benchmark create it in a throwaway server; the
-- migration itself only reads it.
CREATE TABLE stores (
    store_id     varchar(40)   PRIMARY KEY,
    county_code  varchar(32)   NOT NULL,
    name         text          NOT NULL,
    timezone     text          NOT NULL);
CREATE TABLE customers (
    customer_id  bigint        PRIMARY KEY,
    email text, full_name text, phone text, birth_date date,
    created_at   timestamptz   NOT NULL);
CREATE TABLE orders (
    order_id           bigint        PRIMARY KEY,
    client_request_id  varchar(64)   UNIQUE,
    customer_id        bigint        NOT NULL REFERENCES customers,
    store_id           varchar(40)   NOT NULL REFERENCES stores,
    status             varchar(16)   NOT NULL,
    total              numeric(12,2) NOT NULL,
    currency           char(3)       NOT NULL DEFAULT 'USD',
    payment_ref        varchar(64),
    placed_at          timestamp     NOT NULL,
    updated_at         timestamptz   NOT NULL);
CREATE TABLE order_lines (
    order_id    bigint        NOT NULL REFERENCES orders ON DELETE CASCADE,
    line_no     integer       NOT NULL,
    sku         varchar(64)   NOT NULL,
    quantity    integer       NOT NULL CHECK (quantity > 0),
    unit_price  numeric(10,2) NOT NULL,
    PRIMARY KEY (order_id, line_no));
CREATE TABLE inventory (
    store_id    varchar(40)   NOT NULL REFERENCES stores,
    sku         varchar(64)   NOT NULL,
    on_hand     integer       NOT NULL,
    reserved    integer       NOT NULL DEFAULT 0,
    price       numeric(10,2) NOT NULL,
    updated_at  timestamptz   NOT NULL,
    PRIMARY KEY (store_id, sku));
