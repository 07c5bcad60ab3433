//! The configuration layer's public API: the shipped sample counties, the
//! defaults merge seen from the outside, `Environments`, and scaffolding new
//! county files.

use std::fs;
use std::path::{Path, PathBuf};

use acme_stacks::config::{
    AddCountyError, Architecture, CapacityMode, ConfigErrors, CountyConfig, Environments,
    NewCounty, SaleWindow, SourceFile, add_county, parse_county, render_new_county,
};

fn environments_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../environments")
}

fn real_defaults() -> SourceFile {
    SourceFile::read(environments_dir().join("defaults.yaml")).expect("defaults.yaml readable")
}

fn parse(county_text: &str) -> Result<CountyConfig, ConfigErrors> {
    parse_county(
        &real_defaults(),
        &SourceFile::new("environments/travis-tx.yaml", county_text),
    )
}

const IDENTITY: &str = "id: travis-tx\nname: Travis County\nstate: TX\naccount: \"111111111111\"\nregion: us-east-2\ntimezone: America/Chicago\n";

fn new_county() -> NewCounty {
    NewCounty {
        id: "pima-az".into(),
        name: "Pima County".into(),
        state: "AZ".into(),
        account: "123456789012".into(),
        region: "us-west-2".into(),
        timezone: None,
    }
}

/// A scratch `environments/` with the real defaults.
fn scratch_environments() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::copy(
        environments_dir().join("defaults.yaml"),
        dir.path().join("defaults.yaml"),
    )
    .expect("copy defaults");
    dir
}

#[test]
fn every_sample_county_loads_clean() {
    let envs = Environments::open(&environments_dir()).unwrap_or_else(|e| panic!("{e}"));
    let ids = envs.county_ids();
    assert!(ids.len() >= 3, "{ids:?}");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "sorted: {ids:?}");
    assert!(!ids.iter().any(|id| id == "defaults"));
    let all = envs.load_all().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.iter().map(|c| c.id.clone()).collect::<Vec<_>>(), ids);
    for id in &ids {
        let config = envs.load(id).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&config.id, id);
        // Each sample says so in its own file (defaults.yaml may not).
        assert!(config.payment.is_some(), "{id} chooses no payment provider");
    }
    // Distinct accounts: two counties in one account would share limits.
    let mut accounts: Vec<&str> = all.iter().map(|c| c.account.as_str()).collect();
    accounts.sort_unstable();
    accounts.dedup();
    assert_eq!(accounts.len(), all.len());
}

#[test]
fn sample_counties_are_what_they_say() {
    let envs = Environments::open(&environments_dir()).unwrap_or_else(|e| panic!("{e}"));
    let load = |id: &str| envs.load(id).unwrap_or_else(|e| panic!("{e}"));

    let travis = load("travis-tx");
    assert!(matches!(travis.capacity, CapacityMode::Provisioned(_)));
    let (weekday, sunday) = (
        travis.sale_hours.monday.expect("open monday"),
        travis.sale_hours.sunday.expect("open sunday"),
    );
    assert!(sunday.close_minute - sunday.open_minute < weekday.close_minute - weekday.open_minute);

    let king = load("king-wa");
    assert_eq!(king.capacity, CapacityMode::OnDemand);
    assert_eq!(king.timezone, "America/Los_Angeles");

    let fulton = load("fulton-ga");
    assert_eq!(fulton.capacity, CapacityMode::OnDemand);
    assert_eq!(fulton.sale_hours.sunday, None);
    assert_eq!(fulton.account, "031415926535", "leading zero kept");
    assert_eq!(
        fulton.functions.api.reserved_concurrency, None,
        "null removes a default"
    );
}

#[test]
fn county_values_override_defaults_at_any_depth() {
    let config = parse(&format!(
        "{IDENTITY}functions:\n  api:\n    memory_mb: 2048\nsale_hours:\n  sunday: \"12:00-18:00\"\ntags:\n  owner: me\n"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    // Overridden deep inside a mapping; siblings keep their defaults.
    assert_eq!(config.functions.api.memory_mb, 2048);
    assert_eq!(config.functions.api.timeout_seconds, 10);
    assert_eq!(config.functions.api.reserved_concurrency, Some(100));
    assert_eq!(config.functions.architecture, Architecture::Arm64);
    assert_eq!(
        config.sale_hours.sunday,
        Some(SaleWindow {
            open_minute: 12 * 60,
            close_minute: 18 * 60
        })
    );
    assert_eq!(
        config.sale_hours.monday,
        Some(SaleWindow {
            open_minute: 10 * 60,
            close_minute: 21 * 60
        })
    );
    // Tags merge like any mapping.
    assert_eq!(
        config.tags.get("cost-center").map(String::as_str),
        Some("retail-ops")
    );
    assert_eq!(config.tags.get("owner").map(String::as_str), Some("me"));
}

#[test]
fn a_county_that_still_sets_dax_is_told_it_is_gone() {
    let county = SourceFile::new(
        "environments/travis-tx.yaml",
        format!(
            "{IDENTITY}dax:\n  node_type: dax.r5.large\n  node_count: 3\n  subnet_ids: [subnet-0000000a]\n  security_group_ids: [sg-00000001]\n"
        ),
    );
    let err = parse_county(&real_defaults(), &county).expect_err("dax is no setting");
    assert_eq!(err.diagnostics().len(), 1, "{err}");
    let d = &err.diagnostics()[0];
    assert_eq!(d.key_path, "dax");
    assert_eq!(d.file, std::path::Path::new("environments/travis-tx.yaml"));
    assert!(
        d.message.contains("`dax` is no longer a setting"),
        "{}",
        d.message
    );
    assert!(
        d.hint
            .as_deref()
            .is_some_and(|h| h.contains("docs/read-bursts.md")),
        "{:?}",
        d.hint
    );

    // `dax: null` always meant "no cluster", so an old file saying so loads.
    let county = SourceFile::new(
        "environments/travis-tx.yaml",
        format!("{IDENTITY}dax: null\n"),
    );
    parse_county(&real_defaults(), &county).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_weekday_missing_after_merge_is_closed() {
    let defaults = SourceFile::new(
        "environments/defaults.yaml",
        real_defaults().text.replace("  sunday: closed\n", ""),
    );
    let county = SourceFile::new("environments/travis-tx.yaml", IDENTITY);
    let config = parse_county(&defaults, &county).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.sale_hours.sunday, None);
}

#[test]
fn each_diagnostic_names_the_file_of_its_node() {
    let defaults = SourceFile::new(
        "environments/defaults.yaml",
        real_defaults()
            .text
            .replace("gsi_write_shards: 4", "gsi_write_shards: 400"),
    );
    let county = SourceFile::new(
        "environments/travis-tx.yaml",
        format!("{IDENTITY}waf:\n  rate_limit: 1\n"),
    );
    let errors = parse_county(&defaults, &county).expect_err("two errors");
    let files: Vec<(String, &str)> = errors
        .diagnostics()
        .iter()
        .map(|d| (d.file.display().to_string(), d.key_path.as_str()))
        .collect();
    assert_eq!(
        files,
        [
            ("environments/defaults.yaml".to_owned(), "gsi_write_shards"),
            ("environments/travis-tx.yaml".to_owned(), "waf.rate_limit"),
        ]
    );
}

#[test]
fn load_all_reports_every_broken_county_and_each_defaults_error_once() {
    let dir = scratch_environments();
    let defaults = dir.path().join("defaults.yaml");
    let text = fs::read_to_string(&defaults).expect("read");
    fs::write(
        &defaults,
        text.replace("gsi_write_shards: 4", "gsi_write_shards: 0"),
    )
    .expect("write");
    for (id, extra) in [
        ("a-one", "waf: {rate_limit: 1}\n"),
        ("b-two", "max_line_items: 0\n"),
    ] {
        let body = IDENTITY.replace("travis-tx", id) + extra;
        fs::write(dir.path().join(format!("{id}.yaml")), body).expect("write county");
    }
    let envs = Environments::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let errors = envs.load_all().expect_err("broken counties");
    let keys: Vec<&str> = errors
        .diagnostics()
        .iter()
        .map(|d| d.key_path.as_str())
        .collect();
    assert_eq!(
        keys,
        ["waf.rate_limit", "max_line_items", "gsi_write_shards"]
    );
    let text = errors.to_string();
    assert!(text.ends_with("1 error"), "{text}");
    assert_eq!(
        text.matches("error: ").count(),
        6,
        "3 diagnostics + 3 summaries:\n{text}"
    );
}

#[test]
fn open_rejects_yml_files_and_missing_defaults() {
    let dir = scratch_environments();
    fs::write(dir.path().join("pima-az.yml"), "id: pima-az\n").expect("write");
    fs::write(dir.path().join(".pima-az.yaml.swp"), "junk").expect("write");
    let errors = Environments::open(dir.path()).expect_err("yml rejected");
    assert!(
        errors
            .to_string()
            .contains("must end in `.yaml`, not `.yml`"),
        "{errors}"
    );

    let empty = tempfile::tempdir().expect("tempdir");
    let errors = Environments::open(empty.path()).expect_err("no defaults");
    let d = &errors.diagnostics()[0];
    assert_eq!(d.file, empty.path().join("defaults.yaml"));
    assert!(d.message.starts_with("cannot read"), "{}", d.message);
}

#[test]
fn rendered_county_round_trips_with_its_identity() {
    let p = new_county();
    let text = render_new_county(&p).expect("renders");
    let county = SourceFile::new("environments/pima-az.yaml", text.clone());
    let config = parse_county(&real_defaults(), &county).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(
        (
            config.id.as_str(),
            config.name.as_str(),
            config.state.as_str()
        ),
        ("pima-az", "Pima County", "AZ")
    );
    assert_eq!(
        (config.account.as_str(), config.region.as_str()),
        ("123456789012", "us-west-2")
    );
    assert_eq!(config.timezone, "America/Phoenix", "state default zone");
    assert!(text.contains("Several states span two zones"), "{text}");

    let explicit = render_new_county(&NewCounty {
        timezone: Some("America/Denver".into()),
        ..p
    })
    .expect("renders");
    assert!(!explicit.contains("Several states span two zones"));
    let config = parse_county(
        &real_defaults(),
        &SourceFile::new("x/pima-az.yaml", explicit),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.timezone, "America/Denver");
}

/// The commented-out settings in the template document the defaults: with
/// every one of them uncommented and *empty* defaults, the file must give
/// exactly the configuration the real defaults give.
#[test]
fn template_comments_show_every_default_correctly() {
    let text = render_new_county(&new_county()).expect("renders");
    let uncommented: String = text
        .lines()
        .map(|line| match line.strip_prefix('#') {
            Some(rest) if !rest.starts_with(' ') && !rest.is_empty() || rest.starts_with("  ") => {
                rest
            }
            _ => line,
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let empty_defaults = SourceFile::new("environments/defaults.yaml", "");
    let from_comments = parse_county(
        &empty_defaults,
        &SourceFile::new("environments/pima-az.yaml", uncommented.clone()),
    )
    .unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
    let from_defaults = parse_county(
        &real_defaults(),
        &SourceFile::new("environments/pima-az.yaml", text),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(from_comments, from_defaults);
}

/// The new file lists every setting the defaults have, commented out.
#[test]
fn template_lists_every_top_level_setting_of_the_defaults() {
    let text = render_new_county(&new_county()).expect("renders");
    let defaults = real_defaults().text;
    let keys = defaults
        .lines()
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
        .filter_map(|l| l.split(':').next());
    for key in keys {
        let listed = text
            .lines()
            .any(|l| l.starts_with(&format!("#{key}:")) || l.starts_with(&format!("{key}:")));
        assert!(
            listed,
            "`{key}` of defaults.yaml is not in the new county file:\n{text}"
        );
    }
}

#[test]
fn names_with_quotes_colons_and_line_breaks_survive() {
    for name in [
        "O'Brien: \"X\"",
        "Dade # not a comment",
        "St. Mary's\nid: evil",
        "\\ back\\slash",
    ] {
        let p = NewCounty {
            name: name.into(),
            ..new_county()
        };
        let text = render_new_county(&p).expect("renders");
        let county = SourceFile::new("environments/pima-az.yaml", text.clone());
        match parse_county(&real_defaults(), &county) {
            Ok(config) => {
                assert_eq!(config.name, name);
                assert_eq!(config.id, "pima-az");
            }
            // A line break is rejected by validation, but as a name problem:
            // it never turns into YAML structure.
            Err(e) => {
                assert!(name.contains('\n'), "{e}");
                let keys: Vec<&str> = e
                    .diagnostics()
                    .iter()
                    .map(|d| d.key_path.as_str())
                    .collect();
                assert_eq!(keys, ["name"], "{e}\n{text}");
            }
        }
    }
}

#[test]
fn unknown_state_without_timezone_reports_through_the_file() {
    let p = NewCounty {
        state: "XX".into(),
        ..new_county()
    };
    let text = render_new_county(&p).expect("renders");
    let errors = parse_county(
        &real_defaults(),
        &SourceFile::new("environments/pima-az.yaml", text),
    )
    .expect_err("bad state");
    let keys: Vec<&str> = errors
        .diagnostics()
        .iter()
        .map(|d| d.key_path.as_str())
        .collect();
    assert_eq!(keys, ["timezone", "state"]);
}

#[test]
fn add_county_writes_a_new_file() {
    let dir = scratch_environments();
    let path = add_county(dir.path(), &new_county()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(path, dir.path().join("pima-az.yaml"));
    let envs = Environments::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(envs.county_ids(), ["pima-az"]);
    assert_eq!(
        envs.load("pima-az").map(|c| c.name),
        Ok("Pima County".to_owned())
    );
    // No temporary file left behind.
    let names: Vec<String> = fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn add_county_refuses_to_overwrite() {
    let dir = scratch_environments();
    let existing = dir.path().join("pima-az.yaml");
    fs::write(&existing, "# hand-edited\n").expect("write");
    let err = add_county(dir.path(), &new_county()).expect_err("exists");
    assert!(
        matches!(&err, AddCountyError::AlreadyExists { path } if path == &existing),
        "{err}"
    );
    assert!(err.to_string().contains("edit it instead"), "{err}");
    assert_eq!(
        fs::read_to_string(&existing).expect("read"),
        "# hand-edited\n"
    );
}

#[test]
fn add_county_reports_bad_values_as_config_diagnostics() {
    let dir = scratch_environments();
    let p = NewCounty {
        account: "12345".into(),
        ..new_county()
    };
    let err = add_county(dir.path(), &p).expect_err("bad account");
    let AddCountyError::Invalid(errors) = &err else {
        panic!("expected diagnostics, got {err}");
    };
    let d = &errors.diagnostics()[0];
    assert_eq!(d.file, dir.path().join("pima-az.yaml"));
    assert_eq!(d.key_path, "account");
    assert!(d.line > 0);
    let rendered = err.to_string();
    assert!(
        rendered.contains("account: \"12345\""),
        "shows the would-be line:\n{rendered}"
    );
    assert!(!dir.path().join("pima-az.yaml").exists());
}

#[test]
fn add_county_does_not_write_outside_the_directory() {
    let dir = scratch_environments();
    let p = NewCounty {
        id: "../escape".into(),
        ..new_county()
    };
    let err = add_county(dir.path(), &p).expect_err("bad id");
    assert!(matches!(err, AddCountyError::Invalid(_)), "{err}");
    let parent: &Path = dir.path().parent().expect("parent");
    assert!(!parent.join("escape.yaml").exists());
}

/// Hand-rolled mutation testing: thousands of damaged county files must each
/// give a config or diagnostics, never a panic (the YAML loader has
/// `unreachable!()`s in its event handling; this is where they would show).
#[test]
fn damaged_files_give_diagnostics_not_panics() {
    const ALPHABET: &[char] = &[
        ':', '-', ' ', '\n', '\t', '"', '\'', '#', '[', ']', '{', '}', ',', '&', '*', '!', '|',
        '>', '?', '%', '@', '`', 'a', '0', '.', '\u{e9}', '\r',
    ];
    let defaults = real_defaults();
    let samples: Vec<String> = ["travis-tx", "king-wa", "fulton-ga"]
        .iter()
        .map(|id| fs::read_to_string(environments_dir().join(format!("{id}.yaml"))).expect("read"))
        .collect();
    // A fixed-seed LCG: deterministic, and no dependency for it.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |bound: usize| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(seed >> 33).unwrap_or(0) % bound.max(1)
    };
    for round in 0..1000 {
        let mut chars: Vec<char> = samples[round % samples.len()].chars().collect();
        for _ in 0..1 + next(3) {
            let at = next(chars.len() + 1);
            match next(3) {
                0 if at < chars.len() => {
                    chars.remove(at);
                }
                1 => chars.insert(at, ALPHABET[next(ALPHABET.len())]),
                _ => {
                    // Duplicate a stretch, e.g. a whole line or a key.
                    let len = next(40).min(chars.len().saturating_sub(at));
                    let copy: Vec<char> = chars[at..at + len].to_vec();
                    chars.splice(at..at, copy);
                }
            }
        }
        let text: String = chars.into_iter().collect();
        let county = SourceFile::new("environments/travis-tx.yaml", text.clone());
        if let Err(e) = parse_county(&defaults, &county) {
            assert!(!e.is_empty(), "{text}");
            let rendered = e.to_string();
            assert!(rendered.contains("error: "), "{text}");
        }
    }
}

#[test]
fn windows_line_endings_and_a_byte_order_mark_are_fine() {
    let crlf = format!("\u{feff}{IDENTITY}max_units_per_order: 30\n").replace('\n', "\r\n");
    let config = parse(&crlf).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.max_units_per_order, 30);
    // Positions and the quoted line are right too.
    let errors = parse(&crlf.replace("30", "0")).expect_err("out of range");
    let d = &errors.diagnostics()[0];
    assert_eq!((d.line, d.column), (7, 22));
    assert!(
        errors.to_string().contains("7 | max_units_per_order: 0\n"),
        "{errors}"
    );
}

/// The payment provider is the county file's choice: absent, the county has
/// none and its functions get no `ACME_PAYMENT_PROVIDER` (they refuse to
/// start); `simulator` is passed to every function. The scaffold of a new
/// county chooses none.
#[test]
fn payment_is_chosen_by_the_county_file_and_reaches_every_function() {
    use acme_stacks::config::{PaymentConfig, PaymentProvider};
    use acme_stacks::synth::{Format, synthesize};

    let provider_env = |cfg: &CountyConfig| -> Vec<Option<String>> {
        let s = synthesize(cfg, Format::Json).expect("synthesizes");
        let t: serde_json::Value = serde_json::from_str(&s.body).expect("JSON");
        let functions = t["Resources"].as_object().expect("Resources").values();
        functions
            .filter(|r| r["Type"] == "AWS::Lambda::Function")
            .map(|r| {
                r["Properties"]["Environment"]["Variables"]["ACME_PAYMENT_PROVIDER"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect()
    };
    let none = parse(IDENTITY).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(none.payment, None);
    assert_eq!(provider_env(&none), vec![None; 4]);

    let chosen = parse(&format!("{IDENTITY}payment:\n  provider: simulator\n"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        chosen.payment,
        Some(PaymentConfig {
            provider: PaymentProvider::Simulator,
            card_api: None,
        })
    );
    assert_eq!(provider_env(&chosen), vec![Some("simulator".to_owned()); 4]);

    let scaffold = render_new_county(&new_county()).expect("renders");
    let scaffolded = parse_county(
        &real_defaults(),
        &SourceFile::new("environments/pima-az.yaml", scaffold),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scaffolded.payment, None);
}

/// The key paths of the problems in `county_text` over the real defaults
/// (empty when it loads).
fn problems(county_text: &str) -> Vec<String> {
    match parse(&format!("{IDENTITY}{county_text}")) {
        Ok(_) => Vec::new(),
        Err(e) => e.diagnostics().iter().map(|d| d.key_path.clone()).collect(),
    }
}

const CARD_API: &str = "payment:\n  provider: card_api\n  base_url: https://api.cards.example.com\n  api_key_secret_arn: \"arn:aws:secretsmanager:us-east-2:111111111111:secret:card-api-key-AbC123\"\n";

#[test]
fn a_card_api_batch_fits_the_workers_timeout_to_the_second() {
    // Default budget 8 s + 2 s per message, worker 30 s: three fit exactly.
    assert_eq!(
        problems(&format!("queue:\n  batch_size: 3\n{CARD_API}")),
        Vec::<String>::new()
    );
    assert_eq!(
        problems(&format!("queue:\n  batch_size: 4\n{CARD_API}")),
        ["queue.batch_size"]
    );
    // Raising the timeout is the other way out; with nothing written but the
    // provider, the error points at it.
    assert_eq!(
        problems(&format!(
            "functions:\n  worker:\n    timeout_seconds: 100\n{CARD_API}"
        )),
        Vec::<String>::new()
    );
    assert_eq!(problems(CARD_API), ["payment.provider"]);
    // A budget that does not fit one call is the single-call rule's error
    // alone: the batch rule never repeats it.
    assert_eq!(
        problems(&format!(
            "queue:\n  batch_size: 1\n{CARD_API}  call_budget_ms: 9000\n"
        )),
        ["payment.call_budget_ms"]
    );
    // The simulator has no call budget: the default batch of 10 stays valid.
    assert_eq!(
        problems("payment:\n  provider: simulator\n"),
        Vec::<String>::new()
    );
}

#[test]
fn cross_section_rules_hold_at_their_boundaries() {
    // Visibility timeout of the defaults: 6 × 30 s + 0 = 180 s.
    assert_eq!(
        problems("reservation_ttl_seconds: 181\n"),
        Vec::<String>::new()
    );
    assert_eq!(
        problems("reservation_ttl_seconds: 180\n"),
        ["reservation_ttl_seconds"]
    );
    assert_eq!(
        problems("sweeper:\n  stuck_after_minutes: 3\n"),
        Vec::<String>::new()
    );
    assert_eq!(
        problems("sweeper:\n  stuck_after_minutes: 3\nqueue:\n  batching_window_seconds: 1\n"),
        ["sweeper.stuck_after_minutes"]
    );
    // Default max_concurrency 20.
    assert_eq!(
        problems("functions:\n  worker:\n    reserved_concurrency: 20\n"),
        Vec::<String>::new()
    );
    assert_eq!(
        problems("functions:\n  worker:\n    reserved_concurrency: 19\n"),
        ["functions.worker.reserved_concurrency"]
    );
    assert_eq!(
        problems(
            "queue:\n  max_concurrency: 30\nfunctions:\n  worker:\n    reserved_concurrency: 19\n"
        ),
        ["queue.max_concurrency"]
    );
    assert_eq!(
        problems("queue:\n  dlq_retention_days: 5\n"),
        Vec::<String>::new()
    );
    assert_eq!(
        problems("queue:\n  dlq_retention_days: 4\n"),
        ["queue.dlq_retention_days"]
    );
    assert_eq!(
        problems("functions:\n  api:\n    timeout_seconds: 29\n"),
        Vec::<String>::new()
    );
    assert_eq!(
        problems("functions:\n  api:\n    timeout_seconds: 30\n"),
        ["functions.api.timeout_seconds"]
    );
}
