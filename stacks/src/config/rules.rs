//! Validation rules for single values: identifiers, AWS formats and limits,
//! US states and their time zones. Each returns `Err((message, hint))` so the
//! decoder can attach a position; messages name the setting via `path`.

use std::sync::OnceLock;

use jiff::tz::TimeZoneDatabase;

use super::model::SaleWindow;

pub(crate) type Problem = (String, Option<String>);

/// The 50 states and DC: USPS code, name, and the IANA zone most of the
/// state's population lives in (the default for a new county; several states
/// span two zones, so the scaffolded file says to check it).
pub(crate) const STATES: [(&str, &str, &str); 51] = [
    ("AL", "Alabama", "America/Chicago"),
    ("AK", "Alaska", "America/Anchorage"),
    ("AZ", "Arizona", "America/Phoenix"),
    ("AR", "Arkansas", "America/Chicago"),
    ("CA", "California", "America/Los_Angeles"),
    ("CO", "Colorado", "America/Denver"),
    ("CT", "Connecticut", "America/New_York"),
    ("DE", "Delaware", "America/New_York"),
    ("DC", "District of Columbia", "America/New_York"),
    ("FL", "Florida", "America/New_York"),
    ("GA", "Georgia", "America/New_York"),
    ("HI", "Hawaii", "Pacific/Honolulu"),
    ("ID", "Idaho", "America/Boise"),
    ("IL", "Illinois", "America/Chicago"),
    ("IN", "Indiana", "America/Indiana/Indianapolis"),
    ("IA", "Iowa", "America/Chicago"),
    ("KS", "Kansas", "America/Chicago"),
    ("KY", "Kentucky", "America/New_York"),
    ("LA", "Louisiana", "America/Chicago"),
    ("ME", "Maine", "America/New_York"),
    ("MD", "Maryland", "America/New_York"),
    ("MA", "Massachusetts", "America/New_York"),
    ("MI", "Michigan", "America/Detroit"),
    ("MN", "Minnesota", "America/Chicago"),
    ("MS", "Mississippi", "America/Chicago"),
    ("MO", "Missouri", "America/Chicago"),
    ("MT", "Montana", "America/Denver"),
    ("NE", "Nebraska", "America/Chicago"),
    ("NV", "Nevada", "America/Los_Angeles"),
    ("NH", "New Hampshire", "America/New_York"),
    ("NJ", "New Jersey", "America/New_York"),
    ("NM", "New Mexico", "America/Denver"),
    ("NY", "New York", "America/New_York"),
    ("NC", "North Carolina", "America/New_York"),
    ("ND", "North Dakota", "America/Chicago"),
    ("OH", "Ohio", "America/New_York"),
    ("OK", "Oklahoma", "America/Chicago"),
    ("OR", "Oregon", "America/Los_Angeles"),
    ("PA", "Pennsylvania", "America/New_York"),
    ("RI", "Rhode Island", "America/New_York"),
    ("SC", "South Carolina", "America/New_York"),
    ("SD", "South Dakota", "America/Chicago"),
    ("TN", "Tennessee", "America/Chicago"),
    ("TX", "Texas", "America/Chicago"),
    ("UT", "Utah", "America/Denver"),
    ("VT", "Vermont", "America/New_York"),
    ("VA", "Virginia", "America/New_York"),
    ("WA", "Washington", "America/Los_Angeles"),
    ("WV", "West Virginia", "America/New_York"),
    ("WI", "Wisconsin", "America/Chicago"),
    ("WY", "Wyoming", "America/Denver"),
];

/// The primary IANA time zone of a state (USPS code, any case), if it is one
/// of the 50 states or DC.
pub fn state_timezone(state: &str) -> Option<&'static str> {
    STATES
        .iter()
        .find(|(code, _, _)| code.eq_ignore_ascii_case(state))
        .map(|(_, _, tz)| *tz)
}

/// CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
pub(crate) const LOG_RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Tags the generator sets on every resource itself.
pub(crate) const RESERVED_TAGS: [&str; 3] = ["county", "state", "managed-by"];

/// AWS allows 50 tags per resource; the reserved ones take three of them.
pub(crate) const MAX_USER_TAGS: usize = 50 - RESERVED_TAGS.len();

pub(crate) fn county_id(id: &str) -> Result<(), Problem> {
    use acme_contract::ids::{COUNTY_ID_MAX_LEN as MAX, COUNTY_ID_MIN_LEN as MIN};
    let len = id.chars().count();
    let ok_chars = id
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let starts_with_letter = id.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    if (MIN..=MAX).contains(&len) && ok_chars && starts_with_letter {
        return Ok(());
    }
    let hint = match county_id_suggestion(id) {
        Some(fixed) if fixed != id => Some(format!("did you mean `{fixed}`?")),
        _ => Some("the id names stacks and resources, e.g. `travis-tx`".to_owned()),
    };
    Err((
        format!(
            "`id` must be {MIN} to {MAX} lowercase letters, digits or `-`, starting with a letter, found `{id}`"
        ),
        hint,
    ))
}

/// The id `id` was probably meant to be (`Bad_ID` → `bad-id`), if that one
/// is valid: lower case, `-` for every other separator, no leading non-letter.
fn county_id_suggestion(id: &str) -> Option<String> {
    let mut fixed = String::with_capacity(id.len());
    for c in id.trim().chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            fixed.push(c);
        } else if !fixed.is_empty() && !fixed.ends_with('-') {
            fixed.push('-');
        }
    }
    let fixed = fixed
        .trim_matches('-')
        .trim_start_matches(|c: char| !c.is_ascii_lowercase());
    let fixed = fixed.trim_end_matches('-').to_owned();
    let usable = !fixed.is_empty() && county_id_shape(&fixed);
    usable.then_some(fixed)
}

fn county_id_shape(id: &str) -> bool {
    use acme_contract::ids::{COUNTY_ID_MAX_LEN as MAX, COUNTY_ID_MIN_LEN as MIN};
    (MIN..=MAX).contains(&id.chars().count())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

pub(crate) fn county_name(name: &str) -> Result<(), Problem> {
    let len = name.chars().count();
    if name.trim().is_empty() || len > 128 || name.chars().any(char::is_control) {
        return Err((
            "`name` must be 1 to 128 characters, without line breaks or control characters"
                .to_owned(),
            None,
        ));
    }
    Ok(())
}

pub(crate) fn state(code: &str) -> Result<(), Problem> {
    if STATES.iter().any(|(c, _, _)| *c == code) {
        return Ok(());
    }
    let by_name = STATES
        .iter()
        .find(|(c, name, _)| c.eq_ignore_ascii_case(code) || name.eq_ignore_ascii_case(code));
    let hint = match by_name {
        Some((c, _, _)) => format!("did you mean `{c}`?"),
        None => "use the two-letter USPS code of one of the 50 states or DC, e.g. `TX`".to_owned(),
    };
    Err((
        format!("`state` must be a US state code, found `{code}`"),
        Some(hint),
    ))
}

pub(crate) fn account(account: &str) -> Result<(), Problem> {
    if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) {
        if account.bytes().all(|b| b == b'0') {
            return Err((
                format!("`account` `{account}` is not an AWS account id (all zeros)"),
                Some(
                    "set the 12-digit id of the county's account (`aws sts get-caller-identity` prints it)"
                        .to_owned(),
                ),
            ));
        }
        return Ok(());
    }
    let digits = account.chars().filter(char::is_ascii_digit).count();
    let hint = if digits == 12 && account.len() != 12 {
        "write the 12 digits only, without dashes or spaces"
    } else {
        "an AWS account id has 12 digits, as `aws sts get-caller-identity --query Account` prints it"
    };
    Err((
        format!("`account` must be a 12-digit AWS account id, found `{account}`"),
        Some(hint.to_owned()),
    ))
}

/// The regions a county may name: `aws-regions.txt`, one code per line.
fn known_regions() -> &'static [&'static str] {
    static REGIONS: OnceLock<Vec<&'static str>> = OnceLock::new();
    REGIONS.get_or_init(|| {
        include_str!("aws-regions.txt")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_whitespace().next())
            .collect()
    })
}

/// A region AWS has: `us-east-2`, `eu-central-1`, `us-gov-west-1`, ...
/// (the list in `aws-regions.txt`; `us-east-9` has the shape of one and is
/// not).
pub(crate) fn region(region: &str) -> Result<(), Problem> {
    let known = known_regions();
    if known.contains(&region) {
        return Ok(());
    }
    let lower = region.to_ascii_lowercase();
    let hint = if region != lower && known.contains(&lower.as_str()) {
        format!("regions are lower case: `{lower}`")
    } else if let Some(r) = known
        .iter()
        .find(|r| region.starts_with(**r) && region.len() == r.len() + 1)
    {
        format!("`{region}` is an availability zone; its region is `{r}`")
    } else {
        // Regions of the same area (`us-east-`), else the closest spelling.
        let area = region.rsplit_once('-').map_or(region, |(a, _)| a);
        let same_area: Vec<&str> = known
            .iter()
            .copied()
            .filter(|r| r.rsplit_once('-').is_some_and(|(a, _)| a == area))
            .collect();
        if !same_area.is_empty() {
            format!("AWS regions in `{area}`: {}", same_area.join(", "))
        } else if let Some(close) = super::decode::did_you_mean(region, known.iter().copied()) {
            format!("did you mean `{close}`?")
        } else {
            "an AWS region code such as `us-east-2` (the list is stacks/src/config/aws-regions.txt)"
                .to_owned()
        }
    };
    Err((
        format!("`region` must be an AWS region, found `{region}`"),
        Some(hint),
    ))
}

/// Zone names are checked against the tz database bundled into jiff rather
/// than the host's `/usr/share/zoneinfo`, so the answer is the same on every
/// laptop and CI runner, and matches what the functions (which use the same
/// bundled copy) will accept at run time.
fn tzdb() -> &'static (TimeZoneDatabase, Vec<String>) {
    static DB: OnceLock<(TimeZoneDatabase, Vec<String>)> = OnceLock::new();
    DB.get_or_init(|| {
        let db = TimeZoneDatabase::bundled();
        let names = db.available().map(|n| n.to_string()).collect();
        (db, names)
    })
}

pub(crate) fn timezone(name: &str) -> Result<(), Problem> {
    // These legacy zones are fixed offsets without daylight saving time: a
    // county on `EST` would open an hour late all summer.
    let fixed = match name {
        "EST" => Some("America/New_York"),
        "MST" => Some("America/Denver` or `America/Phoenix"),
        "HST" => Some("Pacific/Honolulu"),
        _ => None,
    };
    if let Some(zone) = fixed {
        return Err((
            format!("`timezone` `{name}` is a fixed UTC offset without daylight saving time"),
            Some(format!("use a location-based zone such as `{zone}`")),
        ));
    }
    let (db, names) = tzdb();
    // jiff's lookup ignores case, but other consumers of the name (EventBridge
    // schedules, the TZ variable) do not: require the canonical spelling.
    if names.iter().any(|n| n == name) && db.get(name).is_ok() {
        return Ok(());
    }
    let message = format!("`timezone` must be an IANA time zone name, found `{name}`");
    let suggestion = names
        .iter()
        .find(|n| n.eq_ignore_ascii_case(name))
        .map(String::as_str)
        .or_else(|| us_zone_alias(name))
        .or_else(|| {
            // `Chicago` or `new_york`: the city part of a zone name.
            names
                .iter()
                .find(|n| {
                    n.rsplit('/')
                        .next()
                        .is_some_and(|city| city.eq_ignore_ascii_case(name))
                })
                .map(String::as_str)
        })
        .or_else(|| super::decode::did_you_mean(name, names.iter().map(String::as_str)));
    let hint = match suggestion {
        Some(s) => format!("did you mean `{s}`?"),
        None => "use a zone name such as `America/Chicago` (see the tz database)".to_owned(),
    };
    Err((message, Some(hint)))
}

/// Abbreviations people write for US zones, mapped to the zone they mean.
fn us_zone_alias(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_lowercase().as_str() {
        "et" | "edt" | "eastern" => "America/New_York",
        "ct" | "cst" | "cdt" | "central" => "America/Chicago",
        "mt" | "mdt" | "mountain" => "America/Denver",
        "pt" | "pst" | "pdt" | "pacific" => "America/Los_Angeles",
        "akst" | "akdt" | "alaska" => "America/Anchorage",
        "hawaii" => "Pacific/Honolulu",
        _ => return None,
    })
}

/// `"HH:MM-HH:MM"`: opening time strictly before closing time, `24:00` only
/// as a closing time. A window cannot cross midnight: we store minutes after
/// local midnight of one day.
pub(crate) fn sale_window(text: &str, path: &str) -> Result<SaleWindow, Problem> {
    let bad_format = || {
        (
            format!("`{path}` must be `closed` or a window like \"07:00-24:00\", found `{text}`"),
            Some("two-digit hours and minutes, e.g. \"10:00-21:30\"".to_owned()),
        )
    };
    let (open, close) = text.split_once('-').ok_or_else(bad_format)?;
    let minute = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h <= 24 && m < 60 && (h < 24 || m == 0)).then_some(h * 60 + m)
    };
    let (Some(open_minute), Some(close_minute)) = (minute(open), minute(close)) else {
        return Err(bad_format());
    };
    if open_minute == 24 * 60 {
        return Err((
            format!("`{path}` opens at 24:00; 24:00 is only allowed as a closing time"),
            Some("use \"00:00\" for midnight at the start of the day".to_owned()),
        ));
    }
    if open_minute >= close_minute {
        return Err((
            format!(
                "`{path}` opens at {} but closes at {}: the opening time must come first",
                open.trim(),
                close.trim()
            ),
            Some(
                "a window cannot cross midnight: close at \"24:00\" and open the next day at \"00:00\""
                    .to_owned(),
            ),
        ));
    }
    Ok(SaleWindow {
        open_minute,
        close_minute,
    })
}

/// A deliberately loose check: one `@`, something on both sides, a dot in the
/// domain, no spaces. SNS sends a confirmation mail, which is the real test.
pub(crate) fn email(address: &str) -> Result<(), Problem> {
    let ok = address.len() <= 254
        && !address.chars().any(|c| c.is_whitespace() || c.is_control())
        && address.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if ok {
        Ok(())
    } else {
        Err((
            format!("`alarm_email` must be an email address, found `{address}`"),
            None,
        ))
    }
}

pub(crate) fn log_retention(days: u32) -> Result<(), Problem> {
    if LOG_RETENTION_DAYS.contains(&days) {
        return Ok(());
    }
    let above = LOG_RETENTION_DAYS.iter().position(|&d| d > days);
    let nearest = match above {
        Some(0) => vec![LOG_RETENTION_DAYS[0]],
        Some(i) => vec![LOG_RETENTION_DAYS[i - 1], LOG_RETENTION_DAYS[i]],
        None => vec![LOG_RETENTION_DAYS[LOG_RETENTION_DAYS.len() - 1]],
    };
    let nearest: Vec<String> = nearest.iter().map(u32::to_string).collect();
    Err((
        format!(
            "`log_retention_days` must be a retention period CloudWatch Logs accepts, found `{days}`"
        ),
        Some(format!(
            "the nearest allowed values are {}",
            nearest.join(" and ")
        )),
    ))
}

/// AWS tag rules (key 1..=128 characters, value 0..=256, no `aws:` prefix,
/// letters, digits, spaces and `_ . : / = + - @`), plus our reserved keys.
pub(crate) fn tag_key(key: &str) -> Result<(), Problem> {
    let len = key.chars().count();
    if !(1..=128).contains(&len) {
        return Err((
            format!("tag key `{key}` must be 1 to 128 characters, found {len}"),
            None,
        ));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err((
            format!("tag key `{key}` uses the `aws:` prefix, which AWS reserves"),
            None,
        ));
    }
    if let Some(reserved) = RESERVED_TAGS.iter().find(|r| r.eq_ignore_ascii_case(key)) {
        return Err((
            format!("tag `{reserved}` is reserved: the generator sets it on every resource"),
            Some("remove it".to_owned()),
        ));
    }
    tag_chars(key).map_err(|c| {
        (
            format!("tag key `{key}` contains `{c}`, which AWS does not allow in tags"),
            None,
        )
    })
}

pub(crate) fn tag_value(key: &str, value: &str) -> Result<(), Problem> {
    let len = value.chars().count();
    if len > 256 {
        return Err((
            format!("the value of tag `{key}` must be at most 256 characters, found {len}"),
            None,
        ));
    }
    tag_chars(value).map_err(|c| {
        (
            format!("the value of tag `{key}` contains `{c}`, which AWS does not allow in tags"),
            None,
        )
    })
}

fn tag_chars(s: &str) -> Result<(), char> {
    match s
        .chars()
        .find(|&c| !(c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c)))
    {
        Some(c) => Err(c),
        None => Ok(()),
    }
}

/// At most this many migration operators: each is a principal ARN in the
/// role's trust policy, which IAM caps at 2,048 characters by default.
pub(crate) const MAX_OPERATORS: usize = 10;

pub(crate) fn operator_count(path: &str, n: usize) -> Result<(), Problem> {
    if n == 0 {
        return Err((
            format!("`{path}` is empty"),
            Some("name at least one IAM role or user ARN, or remove the `migration:` section (no migration role)".to_owned()),
        ));
    }
    if n > MAX_OPERATORS {
        return Err((
            format!("`{path}` has {n} operators; at most {MAX_OPERATORS} are allowed"),
            Some("each is a principal in the migration role's trust policy (2,048 characters by default): name a group's shared role instead of each person".to_owned()),
        ));
    }
    Ok(())
}

/// At most this many legacy-sync subnets (Lambda's `VpcConfig` takes 16).
pub(crate) const MAX_SUBNETS: usize = 16;

pub(crate) fn subnet_count(path: &str, n: usize) -> Result<(), Problem> {
    if n == 0 || n > MAX_SUBNETS {
        return Err((
            format!("`{path}` has {n} subnets; give 1 to {MAX_SUBNETS}"),
            Some("the subnets (two or more Availability Zones) from which the function reaches the legacy database".to_owned()),
        ));
    }
    Ok(())
}

/// An EC2 resource id: `<prefix>-` then 8 or 17 lower-case hex digits.
pub(crate) fn aws_id(id: &str, prefix: &str, what: &str) -> Result<(), Problem> {
    let hex = id
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('-'))
        .filter(|h| {
            (h.len() == 8 || h.len() == 17)
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
    match hex {
        Some(_) => Ok(()),
        None => Err((
            format!("`{id}` is not a {what} id"),
            Some(format!(
                "write `{prefix}-` and 8 or 17 lower-case hex digits, e.g. `{prefix}-0123456789abcdef0`"
            )),
        )),
    }
}

/// One of `migration.operators`: `arn:<partition>:iam::<account>:role/<path/name>`,
/// `...:user/<path/name>` or `...:root`. With `account`, it must be that
/// account: the migration role is no way into a county from elsewhere.
pub(crate) fn operator_arn(arn: &str, account: Option<&str>) -> Result<(), Problem> {
    const FORM: &str = "write `arn:aws:iam::<account>:role/<name>`, `arn:aws:iam::<account>:user/<name>` or `arn:aws:iam::<account>:root`";
    let bad = |what: String| {
        Err((
            format!("`{arn}` is not an IAM role or user ARN: {what}"),
            Some(FORM.to_owned()),
        ))
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, arn_account, resource] = parts[..] else {
        return bad("an ARN has six `:`-separated parts".to_owned());
    };
    if prefix != "arn" || !["aws", "aws-us-gov", "aws-cn"].contains(&partition) {
        return bad(
            "it must start with `arn:aws:` (or `arn:aws-us-gov:`, `arn:aws-cn:`)".to_owned(),
        );
    }
    if service != "iam" || !region.is_empty() {
        return bad("the service must be `iam`, with an empty region (`arn:aws:iam::`)".to_owned());
    }
    if arn_account.len() != 12 || !arn_account.bytes().all(|b| b.is_ascii_digit()) {
        return bad(format!("`{arn_account}` is not a 12-digit account id"));
    }
    if resource != "root" {
        let Some(name) = resource
            .strip_prefix("role/")
            .or_else(|| resource.strip_prefix("user/"))
        else {
            return bad(format!(
                "`{resource}` is not `role/<name>`, `user/<name>` or `root`"
            ));
        };
        let name_char = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
        let segments: Vec<&str> = name.split('/').collect();
        let last = segments.last().copied().unwrap_or_default();
        if segments
            .iter()
            .any(|s| s.is_empty() || !s.chars().all(name_char))
            || last.len() > 64
            || name.len() > 512
        {
            return bad(format!(
                "`{name}` is not an IAM name (path segments and a name of at most 64 characters from letters, digits and `+=,.@_-`; no `*`)"
            ));
        }
    }
    match account {
        Some(account) if account != arn_account => Err((
            format!("`{arn}` is in account {arn_account}, not the county's account {account}"),
            Some("operators must be principals of the county's own account; from another account, assume a role there first".to_owned()),
        )),
        _ => Ok(()),
    }
}

/// `access.role_arn`: an IAM role (`arn:<partition>:iam::<account>:role/<name>`)
/// in the county's account, when `account` is known.
pub(crate) fn access_role_arn(arn: &str, account: Option<&str>) -> Result<(), Problem> {
    let form = "write `arn:aws:iam::<account>:role/<name>`, the role in the county's account that the pipeline assumes";
    operator_arn(arn, None).map_err(|(message, _)| {
        (
            message.replace("IAM role or user ARN", "IAM role ARN"),
            Some(form.to_owned()),
        )
    })?;
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if !parts[5].starts_with("role/") {
        return Err((
            format!("`{arn}` is not an IAM role ARN: a deploy assumes a role, not a user"),
            Some(form.to_owned()),
        ));
    }
    match account {
        Some(account) if parts[4] != account => Err((
            format!(
                "`{arn}` is in account {}, not the county's account {account}",
                parts[4]
            ),
            Some("the role must be in the county's account: the deploy runs there".to_owned()),
        )),
        _ => Ok(()),
    }
}

/// `access.external_id`: STS's rules, 2..=1224 of letters, digits and `+=,.@:/-_`.
pub(crate) fn external_id(id: &str) -> Result<(), Problem> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "+=,.@:/-_".contains(c);
    if (2..=1224).contains(&id.len()) && id.chars().all(ok_char) {
        return Ok(());
    }
    Err((
        format!("`{id}` is not an external id"),
        Some("STS accepts 2 to 1,224 letters, digits and `+=,.@:/-_`".to_owned()),
    ))
}

/// `access.profile`: a profile name as the AWS configuration files write it.
pub(crate) fn profile_name(name: &str) -> Result<(), Problem> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    if (1..=64).contains(&name.len()) && name.chars().all(ok_char) {
        return Ok(());
    }
    Err((
        format!("`{name}` is not an AWS profile name"),
        Some("at most 64 letters, digits and `+=,.@_-`, as in `[profile acme-king]` of ~/.aws/config".to_owned()),
    ))
}

/// `payment.base_url` of provider `card_api`: `https://host[:port][/path]`.
/// Plain HTTP is refused outright: the adapter's one plain-HTTP allowance
/// (a fake provider on loopback) exists only in test builds and no county
/// file can select it.
pub(crate) fn card_api_base_url(url: &str) -> Result<(), Problem> {
    let Some(rest) = url.strip_prefix("https://") else {
        return Err((
            format!("`{url}` is not an https:// URL"),
            Some("the card API is reached over TLS only: write `https://<host>[/<path>]` (plain HTTP exists only for the tests' fake provider on loopback, which a county file cannot select)".to_owned()),
        ));
    };
    let host_port = rest.split('/').next().unwrap_or_default();
    let host = host_port.rsplit_once(':').map_or(host_port, |(h, _)| h);
    let path_ok = rest
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._~/:%".contains(c));
    if host.is_empty() || !path_ok {
        return Err((
            format!("`{url}` is not a base URL"),
            Some(
                "write `https://<host>[:<port>][/<path>]`, without user, query or fragment"
                    .to_owned(),
            ),
        ));
    }
    let loopback = host == "localhost"
        || host.ends_with(".localhost")
        || host.starts_with("127.")
        || host == "[::1]"
        || host == "0.0.0.0";
    if loopback {
        return Err((
            format!("`{url}` is a loopback address, which a deployed function cannot reach"),
            Some(
                "use the provider's public API URL; a fake provider on loopback is for tests only"
                    .to_owned(),
            ),
        ));
    }
    if !host.contains('.') {
        return Err((
            format!("`{url}` has no domain name (`{host}`)"),
            Some("use the provider's public API URL, e.g. `https://api.<provider>.com`".to_owned()),
        ));
    }
    Ok(())
}

/// An ARN's six parts, checked for `service` in the county's `region` and
/// `account`; returns the resource part.
fn county_arn<'a>(
    arn: &'a str,
    service: &str,
    region: &str,
    account: &str,
    form: &str,
) -> Result<&'a str, Problem> {
    let bad = |what: String| {
        Err((
            format!("`{arn}` is not a {service} ARN: {what}"),
            Some(form.to_owned()),
        ))
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, svc, arn_region, arn_account, resource] = parts[..] else {
        return bad("an ARN has six `:`-separated parts".to_owned());
    };
    if prefix != "arn" || !["aws", "aws-us-gov", "aws-cn"].contains(&partition) {
        return bad("it must start with `arn:aws:`".to_owned());
    }
    if svc != service {
        return bad(format!("the service is `{svc}`"));
    }
    if arn_region != region || arn_account != account {
        return Err((
            format!(
                "`{arn}` is in {arn_account}/{arn_region}, not the county's account and region ({account}/{region})"
            ),
            Some("keep the secret (and its key) in the county's own account and region".to_owned()),
        ));
    }
    Ok(resource)
}

/// `payment.api_key_secret_arn` and `migration.legacy_sync.database_secret_arn`:
/// a secret's complete ARN (with the six characters Secrets Manager appends),
/// in the county's account and region.
/// The complete ARN is what the functions' IAM policy must name.
pub(crate) fn secret_arn(arn: &str, region: &str, account: &str) -> Result<(), Problem> {
    const FORM: &str = "write the secret's complete ARN, as `aws secretsmanager describe-secret --secret-id <name> --query ARN` prints it: `arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 characters>`";
    let resource = county_arn(arn, "secretsmanager", region, account, FORM)?;
    let name = resource.strip_prefix("secret:").unwrap_or_default();
    let suffix_ok = name.rsplit_once('-').is_some_and(|(n, s)| {
        !n.is_empty() && s.len() == 6 && s.chars().all(|c| c.is_ascii_alphanumeric())
    });
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c));
    if !suffix_ok || !chars_ok {
        return Err((
            format!("`{arn}` is not a complete secret ARN (`secret:<name>-<6 characters>`)"),
            Some(FORM.to_owned()),
        ));
    }
    Ok(())
}

/// `payment.api_key_kms_key_arn`: the customer managed key the secret is
/// encrypted with, in the county's account and region.
pub(crate) fn kms_key_arn(arn: &str, region: &str, account: &str) -> Result<(), Problem> {
    const FORM: &str =
        "write the key's ARN, `arn:aws:kms:<region>:<account>:key/<key id>` (not an alias)";
    let resource = county_arn(arn, "kms", region, account, FORM)?;
    let id = resource.strip_prefix("key/").unwrap_or_default();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err((
            format!("`{arn}` is not a KMS key ARN"),
            Some(FORM.to_owned()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_a_zone_jiff_knows() {
        for (code, _, tz) in STATES {
            assert!(timezone(tz).is_ok(), "{code}: {tz}");
        }
        assert_eq!(state_timezone("tx"), Some("America/Chicago"));
        assert_eq!(state_timezone("PR"), None);
    }

    #[test]
    fn access_roles_are_roles_of_the_countys_account() {
        let arn = "arn:aws:iam::222222222222:role/acme-deploy";
        assert!(access_role_arn(arn, Some("222222222222")).is_ok());
        let (m, _) = access_role_arn(arn, Some("111111111111")).expect_err("other account");
        assert!(m.contains("not the county's account 111111111111"), "{m}");
        let (m, _) = access_role_arn("arn:aws:iam::222222222222:user/ci", None).expect_err("user");
        assert!(m.contains("not an IAM role ARN"), "{m}");
        assert!(access_role_arn("acme-deploy", None).is_err());
        assert!(external_id("x").is_err());
        assert!(external_id("acme-fleet-7").is_ok());
        assert!(profile_name("acme-king").is_ok());
        assert!(profile_name("acme king").is_err());
        assert!(profile_name("").is_err());
    }

    #[test]
    fn regions() {
        for ok in [
            "us-east-2",
            "eu-central-1",
            "us-gov-west-1",
            "ap-southeast-4",
            "ca-west-1",
        ] {
            assert!(region(ok).is_ok(), "{ok}");
        }
        for bad in [
            "us-east",
            "us-east-2a",
            "US-EAST-2",
            "useast2",
            "us-middle-1",
            "us-east-9",
            "eu-west-0",
            "",
        ] {
            assert!(region(bad).is_err(), "{bad}");
        }
        let hint = |r: &str| region(r).err().and_then(|(_, h)| h).unwrap_or_default();
        assert_eq!(
            hint("us-east-9"),
            "AWS regions in `us-east`: us-east-1, us-east-2"
        );
        assert_eq!(
            hint("us-east-2a"),
            "`us-east-2a` is an availability zone; its region is `us-east-2`"
        );
        assert_eq!(hint("US-EAST-2"), "regions are lower case: `us-east-2`");
    }

    #[test]
    fn accounts() {
        assert!(account("111111111111").is_ok());
        for bad in [
            "000000000000",
            "11111111111",
            "1111-1111-1111",
            "11111111111a",
        ] {
            let (message, hint) = account(bad).expect_err(bad);
            assert!(message.contains(bad), "{message}");
            assert!(hint.is_some(), "{bad}");
        }
    }

    #[test]
    fn the_region_list_is_well_formed() {
        let known = known_regions();
        assert!(known.len() >= 30, "{}", known.len());
        for r in known {
            assert!(
                r.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{r}"
            );
        }
        for sample in ["us-east-2", "us-west-2", "ca-west-1", "mx-central-1"] {
            assert!(known.contains(&sample), "{sample}");
        }
    }

    #[test]
    fn sale_windows() {
        let w = sale_window("07:00-24:00", "p").expect("valid");
        assert_eq!((w.open_minute, w.close_minute), (420, 1440));
        assert!(sale_window("00:00-00:30", "p").is_ok());
        for bad in [
            "7:00-24:00",
            "07:00-24:30",
            "24:00-24:00",
            "22:00-02:00",
            "10:00-10:00",
            "10:60-11:00",
            "10:00",
            "closed-ish",
        ] {
            assert!(sale_window(bad, "p").is_err(), "{bad}");
        }
    }

    #[test]
    fn timezones() {
        assert!(timezone("America/Chicago").is_ok());
        let hint = |name| {
            timezone(name)
                .err()
                .and_then(|(_, h)| h)
                .unwrap_or_default()
        };
        assert_eq!(hint("america/chicago"), "did you mean `America/Chicago`?");
        assert_eq!(hint("America/Chicgo"), "did you mean `America/Chicago`?");
        assert_eq!(hint("Chicago"), "did you mean `America/Chicago`?");
        assert_eq!(hint("CST"), "did you mean `America/Chicago`?");
        assert!(timezone("EST").is_err());
    }

    #[test]
    fn tags_and_ids() {
        assert!(tag_key("cost-center").is_ok());
        assert!(tag_key("aws:foo").is_err());
        assert!(tag_key("County").is_err());
        assert!(tag_key("a*b").is_err());
        assert!(tag_value("k", "").is_ok());
        assert!(county_id("travis-tx").is_ok());
        assert!(county_id("Travis").is_err());
        assert!(county_id("1abc").is_err());
        assert!(account("011111111111").is_ok());
        for (bad, meant) in [
            ("Bad_ID", "bad-id"),
            ("Travis TX", "travis-tx"),
            ("9king_WA", "king-wa"),
        ] {
            let (_, hint) = county_id(bad).expect_err(bad);
            assert_eq!(
                hint.as_deref(),
                Some(format!("did you mean `{meant}`?").as_str())
            );
            assert!(county_id(meant).is_ok(), "{meant} is valid");
        }
        assert!(account("1111-1111-1111").is_err());
        assert!(
            log_retention(100).is_err_and(
                |(_, h)| h.as_deref() == Some("the nearest allowed values are 90 and 120")
            )
        );
        assert!(email("orders-oncall@acme-liquors.example").is_ok());
        assert!(email("oncall").is_err());
    }

    #[test]
    fn operators_are_iam_roles_users_or_the_root_of_the_countys_account() {
        let acct = Some("111111111111");
        for ok in [
            "arn:aws:iam::111111111111:role/acme-migration-operators",
            "arn:aws:iam::111111111111:role/service-role/ci/deploy+ci@x",
            "arn:aws:iam::111111111111:user/alice",
            "arn:aws:iam::111111111111:root",
            "arn:aws-us-gov:iam::111111111111:role/ops",
        ] {
            assert_eq!(operator_arn(ok, acct), Ok(()), "{ok}");
        }
        let long = format!("arn:aws:iam::111111111111:role/{}", "r".repeat(65));
        for bad in [
            "arn:aws:iam::222222222222:role/ops",
            "arn:aws:iam::111111111111:group/ops",
            "arn:aws:iam::111111111111:role/",
            "arn:aws:iam::111111111111:role/a//b",
            "arn:aws:iam::111111111111:role/*",
            "arn:aws:iam:us-east-1:111111111111:role/ops",
            "arn:aws:sts::111111111111:assumed-role/ops/s",
            "arn:aws:iam::11111111111:role/ops",
            "arn:azure:iam::111111111111:role/ops",
            "111111111111",
            long.as_str(),
        ] {
            assert!(operator_arn(bad, acct).is_err(), "{bad}");
        }
        // Without a valid county account only the form is checked.
        assert_eq!(
            operator_arn("arn:aws:iam::222222222222:role/ops", None),
            Ok(())
        );
        assert!(operator_count("migration.operators", 0).is_err());
        assert!(operator_count("migration.operators", MAX_OPERATORS).is_ok());
        assert!(operator_count("migration.operators", MAX_OPERATORS + 1).is_err());
    }
}
