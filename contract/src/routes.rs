//! The order API's routes, defined once. The county stack builds API
//! Gateway's resources, methods and request-parameter validation from
//! [`ROUTES`]; the order API function builds its router from the same table
//! ([`find`]), so a route, or a query parameter API Gateway insists on, can't
//! exist on one side only.
//!
//! Path templates are API Gateway's: literal segments and `{name}` path
//! parameters, no greedy `{name+}`.

use std::fmt;

/// The HTTP methods the API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
}

impl Method {
    /// The method as HTTP spells it (`GET`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a route does: the handler's operation, and API Gateway's
/// `OperationName` of the method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    PlaceOrder,
    ListOrdersByStatus,
    GetOrder,
    CancelOrder,
    ListCustomerOrders,
    ListStoreOrders,
    ListCountyOrders,
    GetLegacyOrder,
    PutCustomer,
    GetCustomer,
    ReleaseHeldOrder,
    RejectHeldOrder,
    FulfillOrder,
}

impl Operation {
    /// The name API Gateway and the stack's logical ids use (`PlaceOrder`).
    pub const fn name(self) -> &'static str {
        match self {
            Operation::PlaceOrder => "PlaceOrder",
            Operation::ListOrdersByStatus => "ListOrdersByStatus",
            Operation::GetOrder => "GetOrder",
            Operation::CancelOrder => "CancelOrder",
            Operation::ListCustomerOrders => "ListCustomerOrders",
            Operation::ListStoreOrders => "ListStoreOrders",
            Operation::ListCountyOrders => "ListCountyOrders",
            Operation::GetLegacyOrder => "GetLegacyOrder",
            Operation::PutCustomer => "PutCustomer",
            Operation::GetCustomer => "GetCustomer",
            Operation::ReleaseHeldOrder => "ReleaseHeldOrder",
            Operation::RejectHeldOrder => "RejectHeldOrder",
            Operation::FulfillOrder => "FulfillOrder",
        }
    }

    /// Whether only store or county staff may call it: a request whose
    /// authorizer names a customer is refused (403) before any service runs.
    /// API Gateway authorizes every method the same way (`AWS_IAM`, ACME's
    /// own services); this is the order API's second gate, for the day a
    /// customer-facing authorizer passes a `customer_id` through.
    pub const fn staff_only(self) -> bool {
        matches!(
            self,
            Operation::ListOrdersByStatus
                | Operation::ListStoreOrders
                | Operation::ListCountyOrders
                | Operation::ReleaseHeldOrder
                | Operation::RejectHeldOrder
                | Operation::FulfillOrder
        )
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One query-string parameter of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryParam {
    pub name: &'static str,
    /// API Gateway refuses a request without it (400) before the function
    /// runs; the function refuses it too.
    pub required: bool,
    /// What a value looks like, for error messages.
    pub format: &'static str,
}

impl QueryParam {
    /// The same parameter, required.
    pub const fn required(self) -> Self {
        QueryParam {
            required: true,
            ..self
        }
    }
}

/// The query parameters the API knows, each defined once.
pub mod query {
    use super::QueryParam;

    /// Listings by status, store or county read one GSI from a point in
    /// time: the domain's queries take a start, and without one a listing
    /// would scan the county's whole history.
    pub const SINCE: QueryParam = QueryParam {
        name: "since",
        required: false,
        format: "an RFC 3339 timestamp, e.g. 2026-03-09T00:00:00Z",
    };
    /// The status index is sparse: only in-flight statuses are listed.
    pub const STATUS: QueryParam = QueryParam {
        name: "status",
        required: false,
        format: "PENDING, RESERVED, HELD or CONFIRMED",
    };
    /// A store's listing filtered to one status (the pick list is
    /// `status=CONFIRMED`): any status name.
    pub const STORE_STATUS: QueryParam = QueryParam {
        name: "status",
        required: false,
        format: "an order status, e.g. CONFIRMED",
    };
    pub const LIMIT: QueryParam = QueryParam {
        name: "limit",
        required: false,
        format: "a page size, 1 to 100",
    };
    pub const CURSOR: QueryParam = QueryParam {
        name: "cursor",
        required: false,
        format: "the next_cursor of the previous page",
    };
}

/// One route: a method on a path template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub operation: Operation,
    pub method: Method,
    /// `/orders/{order_id}`.
    pub path: &'static str,
    pub query: &'static [QueryParam],
    /// Whether API Gateway checks the body against the place-order model.
    pub body_model: bool,
}

/// A path template's segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    Literal(&'static str),
    /// `{name}`: any non-empty segment, passed on as a path parameter.
    Param(&'static str),
}

impl Segment {
    /// The segment as written in the template (`orders`, `{order_id}`).
    pub fn as_template(self) -> String {
        match self {
            Segment::Literal(s) => s.to_owned(),
            Segment::Param(p) => format!("{{{p}}}"),
        }
    }
}

impl Route {
    /// The path template's segments, in order.
    pub fn segments(&self) -> impl Iterator<Item = Segment> + '_ {
        self.path.trim_start_matches('/').split('/').map(|s| {
            match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => Segment::Param(name),
                None => Segment::Literal(s),
            }
        })
    }

    /// Names of the path parameters, in order.
    pub fn path_params(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.segments().filter_map(|s| match s {
            Segment::Param(p) => Some(p),
            Segment::Literal(_) => None,
        })
    }

    /// The query parameters a request must carry.
    pub fn required_query(&self) -> impl Iterator<Item = &'static QueryParam> + '_ {
        self.query.iter().filter(|q| q.required)
    }

    /// The path parameters of `path` if it fits this route's template
    /// (method aside). `path` is split on `/` after trimming slashes at
    /// both ends, as the function has always read it.
    pub fn match_path<'p>(&self, path: &'p str) -> Option<PathParams<'p>> {
        let mut parts = path.trim_matches('/').split('/');
        let mut params = Vec::new();
        for seg in self.segments() {
            let part = parts.next()?;
            match seg {
                Segment::Literal(l) if l == part => {}
                Segment::Param(name) if !part.is_empty() => params.push((name, part)),
                _ => return None,
            }
        }
        parts.next().is_none().then_some(PathParams(params))
    }

    /// `METHOD /path`.
    pub fn describe(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// Path parameters of a matched request, raw (not percent-decoded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathParams<'p>(Vec<(&'static str, &'p str)>);

impl<'p> PathParams<'p> {
    /// The value of the path parameter `name`.
    pub fn get(&self, name: &str) -> Option<&'p str> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &'p str)> + '_ {
        self.0.iter().copied()
    }
}

/// Pagination parameters of every list route.
const PAGE: [QueryParam; 2] = [query::LIMIT, query::CURSOR];

/// The order API. Order matters only for the stack (the methods' order feeds
/// the deployment's fingerprint).
pub const ROUTES: &[Route] = &[
    Route {
        operation: Operation::PlaceOrder,
        method: Method::Post,
        path: "/orders",
        query: &[],
        body_model: true,
    },
    Route {
        operation: Operation::ListOrdersByStatus,
        method: Method::Get,
        path: "/orders",
        query: &[
            query::STATUS.required(),
            query::SINCE.required(),
            PAGE[0],
            PAGE[1],
        ],
        body_model: false,
    },
    Route {
        operation: Operation::GetOrder,
        method: Method::Get,
        path: "/orders/{order_id}",
        query: &[],
        body_model: false,
    },
    Route {
        operation: Operation::CancelOrder,
        method: Method::Post,
        path: "/orders/{order_id}/cancel",
        query: &[],
        body_model: false,
    },
    Route {
        operation: Operation::ListCustomerOrders,
        method: Method::Get,
        path: "/customers/{customer_id}/orders",
        query: &PAGE,
        body_model: false,
    },
    Route {
        operation: Operation::ListStoreOrders,
        method: Method::Get,
        path: "/stores/{store_id}/orders",
        query: &[
            query::SINCE.required(),
            query::STORE_STATUS,
            PAGE[0],
            PAGE[1],
        ],
        body_model: false,
    },
    Route {
        operation: Operation::ListCountyOrders,
        method: Method::Get,
        path: "/county/orders",
        query: &[query::SINCE.required(), PAGE[0], PAGE[1]],
        body_model: false,
    },
    // A migrated order by its number in the legacy database. `legacy` is a
    // literal beside `{order_id}`: no order id is `legacy` (ids are 26
    // characters), and API Gateway prefers the literal anyway.
    Route {
        operation: Operation::GetLegacyOrder,
        method: Method::Get,
        path: "/orders/legacy/{legacy_order_id}",
        query: &[],
        body_model: false,
    },
    Route {
        operation: Operation::PutCustomer,
        method: Method::Put,
        path: "/customers/{customer_id}",
        query: &[],
        body_model: false,
    },
    Route {
        operation: Operation::GetCustomer,
        method: Method::Get,
        path: "/customers/{customer_id}",
        query: &[],
        body_model: false,
    },
    // Staff review of orders the worker's fraud screening held: release
    // (payment goes ahead) or reject (cancelled, stock back).
    Route {
        operation: Operation::ReleaseHeldOrder,
        method: Method::Post,
        path: "/orders/{order_id}/release",
        query: &[],
        body_model: false,
    },
    Route {
        operation: Operation::RejectHeldOrder,
        method: Method::Post,
        path: "/orders/{order_id}/reject",
        query: &[],
        body_model: false,
    },
    // The store marks a CONFIRMED order picked up or shipped.
    Route {
        operation: Operation::FulfillOrder,
        method: Method::Post,
        path: "/orders/{order_id}/fulfill",
        query: &[],
        body_model: false,
    },
];

/// Why no route answers a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// No route has this path.
    NotFound,
    /// The path exists under other methods: these, for an `Allow` header.
    MethodNotAllowed(Vec<Method>),
}

impl Miss {
    /// `GET, POST`: the `Allow` header of a 405.
    pub fn allow_header(&self) -> Option<String> {
        match self {
            Miss::NotFound => None,
            Miss::MethodNotAllowed(methods) => Some(
                methods
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        }
    }
}

/// The route for `method` (as HTTP spells it) and `path`, with its path
/// parameters.
pub fn find<'p>(method: &str, path: &'p str) -> Result<(&'static Route, PathParams<'p>), Miss> {
    let mut others = Vec::new();
    for route in ROUTES {
        if let Some(params) = route.match_path(path) {
            if route.method.as_str() == method {
                return Ok((route, params));
            }
            others.push(route.method);
        }
    }
    if others.is_empty() {
        return Err(Miss::NotFound);
    }
    others.sort();
    others.dedup();
    Err(Miss::MethodNotAllowed(others))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route_of(operation: Operation) -> &'static Route {
        ROUTES
            .iter()
            .find(|r| r.operation == operation)
            .expect("every operation has a route")
    }

    /// A concrete path for `r`, each parameter filled with `x`.
    fn sample(r: &Route) -> String {
        r.segments()
            .map(|s| match s {
                Segment::Literal(l) => l.to_owned(),
                Segment::Param(_) => "x".to_owned(),
            })
            .fold(String::new(), |p, s| p + "/" + &s)
    }

    #[test]
    fn every_operation_has_exactly_one_route() {
        let all = [
            Operation::PlaceOrder,
            Operation::ListOrdersByStatus,
            Operation::GetOrder,
            Operation::CancelOrder,
            Operation::ListCustomerOrders,
            Operation::ListStoreOrders,
            Operation::ListCountyOrders,
            Operation::GetLegacyOrder,
            Operation::PutCustomer,
            Operation::GetCustomer,
            Operation::ReleaseHeldOrder,
            Operation::RejectHeldOrder,
            Operation::FulfillOrder,
        ];
        assert_eq!(ROUTES.len(), all.len());
        for op in all {
            assert_eq!(ROUTES.iter().filter(|r| r.operation == op).count(), 1);
            assert_eq!(route_of(op).operation, op);
        }
    }

    #[test]
    fn no_request_fits_two_routes() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                let same_shape = a.segments().count() == b.segments().count()
                    && a.segments().zip(b.segments()).all(|pair| match pair {
                        (Segment::Literal(x), Segment::Literal(y)) => x == y,
                        _ => true,
                    });
                assert!(
                    a.method != b.method || !same_shape,
                    "{} and {} overlap",
                    a.describe(),
                    b.describe()
                );
            }
        }
    }

    #[test]
    fn every_route_is_found_with_its_parameters() {
        for r in ROUTES {
            let path = sample(r);
            let (found, params) = find(r.method.as_str(), &path).expect("found");
            assert_eq!(found.operation, r.operation, "{path}");
            for p in r.path_params() {
                assert_eq!(params.get(p), Some("x"), "{path}: {p}");
            }
        }
        let (r, p) = find("GET", "/customers/c-1/orders/").expect("trailing slash");
        assert_eq!(r.operation, Operation::ListCustomerOrders);
        assert_eq!(p.get("customer_id"), Some("c-1"));
    }

    #[test]
    fn the_legacy_lookup_and_profiles_sit_beside_their_neighbours() {
        let (r, p) = find("GET", "/orders/legacy/1011").expect("legacy");
        assert_eq!(r.operation, Operation::GetLegacyOrder);
        assert_eq!(p.get("legacy_order_id"), Some("1011"));
        let (r, p) = find("GET", "/orders/01HZY3M4T7X8Q9R0S1T2V3W4X5").expect("order");
        assert_eq!(r.operation, Operation::GetOrder);
        assert_eq!(p.get("order_id"), Some("01HZY3M4T7X8Q9R0S1T2V3W4X5"));
        let (r, _) = find("PUT", "/customers/c-1").expect("put");
        assert_eq!(r.operation, Operation::PutCustomer);
        let (r, _) = find("GET", "/customers/c-1").expect("get");
        assert_eq!(r.operation, Operation::GetCustomer);
        let miss = find("DELETE", "/customers/c-1").expect_err("405");
        assert_eq!(miss.allow_header().as_deref(), Some("GET, PUT"));
        let miss = find("PUT", "/orders/legacy/1011").expect_err("405");
        assert_eq!(miss.allow_header().as_deref(), Some("GET"));
    }

    #[test]
    fn misses_tell_not_found_from_wrong_method() {
        assert_eq!(find("GET", "/nope"), Err(Miss::NotFound));
        assert_eq!(find("GET", "/orders//cancel"), Err(Miss::NotFound));
        assert_eq!(find("GET", "/orders/x/cancel/more"), Err(Miss::NotFound));
        let miss = find("DELETE", "/orders").expect_err("405");
        assert_eq!(miss.allow_header().as_deref(), Some("GET, POST"));
        let miss = find("GET", "/orders/x/cancel").expect_err("405");
        assert_eq!(miss.allow_header().as_deref(), Some("POST"));
    }

    #[test]
    fn listings_from_a_point_in_time_require_since() {
        for op in [
            Operation::ListOrdersByStatus,
            Operation::ListStoreOrders,
            Operation::ListCountyOrders,
        ] {
            let required: Vec<_> = route_of(op).required_query().map(|q| q.name).collect();
            assert!(required.contains(&query::SINCE.name), "{op}");
        }
        let required: Vec<_> = route_of(Operation::ListCustomerOrders)
            .required_query()
            .collect();
        assert!(required.is_empty());
    }

    #[test]
    fn the_pick_list_filters_a_store_by_status_and_staff_actions_are_staff_only() {
        let store = route_of(Operation::ListStoreOrders);
        let status = store.query.iter().find(|q| q.name == "status");
        assert_eq!(status.map(|q| q.required), Some(false));
        for (path, op) in [
            ("/orders/x/release", Operation::ReleaseHeldOrder),
            ("/orders/x/reject", Operation::RejectHeldOrder),
            ("/orders/x/fulfill", Operation::FulfillOrder),
        ] {
            let (r, p) = find("POST", path).expect(path);
            assert_eq!(r.operation, op);
            assert_eq!(p.get("order_id"), Some("x"));
            assert!(op.staff_only(), "{op}");
        }
        for op in [
            Operation::PlaceOrder,
            Operation::GetOrder,
            Operation::CancelOrder,
            Operation::PutCustomer,
        ] {
            assert!(!op.staff_only(), "{op}");
        }
    }
}
