use std::path::Path;

use super::*;

fn store_for(profile: &str) -> MemoryStore {
    let store = MemoryStore::default();
    for setting in ["client_secret", "autotask_password", "autotask_integration_code"] {
        store.set(&SecretRef::store_key(profile, setting), &Secret::new(format!("{setting}-value"))).unwrap();
    }
    store
}

#[test]
fn the_example_loads_with_every_setting() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/worker.toml");
    let config = WorkerConfig::load(&path, &store_for("Production")).unwrap();
    assert_eq!(config.listen.port(), 8180);
    let p = config.profile("Production").unwrap();
    assert_eq!(p.appliance_id, "default");
    assert_eq!(p.beyondtrust.host, "support.example.com");
    assert_eq!(p.beyondtrust.client_secret.expose(), "client_secret-value");
    assert_eq!(p.autotask.secret.expose(), "autotask_password-value");
    assert_eq!(p.autotask.integration_code.expose(), "autotask_integration_code-value");
    assert_eq!(p.outbound_event_types.len(), 3);
    assert!(p.polling_event_types.is_empty());
    assert_eq!(p.time_entry_default_data.role_name(), Some("Sample Role"));
    assert_eq!(p.time_entry_default_data.default_domain(), Some("example.com"));
    assert_eq!(p.ticket_default_data["companyName"], "Dynamo Corporation");
    assert!(config.profile_for_appliance("DEFAULT").is_some());
    assert!(!p.embedded_worker, "the example is a headless desk: the tray's embedded worker is off");
}

const MINIMAL: &str = r#"
[[profile]]
name = "Desk"
appliance_host = "support.example.com"
client_id = "id"
client_secret_env = "BTA_TEST_NEVER_SET_1"
autotask_username = "api@example.com"
"#;

#[test]
fn the_embedded_worker_is_on_unless_switched_off() {
    let text = MINIMAL.replace("client_secret_env = \"BTA_TEST_NEVER_SET_1\"\n", "");
    let on = WorkerConfig::parse(&text, Path::new("."), &store_for("Desk")).unwrap();
    assert!(on.profiles[0].embedded_worker);
    let off =
        WorkerConfig::parse(&format!("{text}embedded_worker = false\n"), Path::new("."), &store_for("Desk")).unwrap();
    assert!(!off.profiles[0].embedded_worker);
}

#[test]
fn a_missing_environment_secret_says_which_variable() {
    let err = WorkerConfig::parse(MINIMAL, Path::new("."), &store_for("Desk")).unwrap_err();
    assert_eq!(err.0.len(), 1, "{err}");
    assert!(err.0[0].contains("profile 'Desk', key 'client_secret'"), "{err}");
    assert!(err.0[0].contains("BTA_TEST_NEVER_SET_1"), "{err}");
}

#[test]
fn the_seed_json_string_form_of_default_data_is_accepted() {
    let text = MINIMAL.replace("client_secret_env = \"BTA_TEST_NEVER_SET_1\"\n", "")
        + "update_time_entry = true\ntime_entry_default_data = '{\"roleName\": \"Sample Role\", \"summaryNotes\": \"x\", \"defaultDomain\": \"example.com\", \"offsetHours\": 1.5}'\n";
    let config = WorkerConfig::parse(&text, Path::new("."), &store_for("Desk")).unwrap();
    assert_eq!(config.profiles[0].time_entry_default_data.offset_hours(), Some(1.5));
}

#[test]
fn the_time_entry_role_order_is_the_desks_and_a_wrong_one_is_said() {
    let base = MINIMAL.replace("client_secret_env = \"BTA_TEST_NEVER_SET_1\"\n", "");
    let config = WorkerConfig::parse(&base, Path::new("."), &store_for("Desk")).unwrap();
    let profile = &config.profiles[0];
    assert_eq!(profile.time_entry_roles, RoleSource::ALL.to_vec(), "ticket, roleName, default");
    assert!(profile.write_as_rep && profile.recording_links_in_note, "on unless switched off");
    let own = base.clone() + "time_entry_roles = [\"default\", \"role_name\"]\n";
    let config = WorkerConfig::parse(&own, Path::new("."), &store_for("Desk")).unwrap();
    assert_eq!(config.profiles[0].time_entry_roles, [RoleSource::Default, RoleSource::RoleName]);
    let wrong = base + "time_entry_roles = [\"queue\", \"default\", \"default\"]\n";
    let err = WorkerConfig::parse(&wrong, Path::new("."), &store_for("Desk")).unwrap_err().to_string();
    assert!(err.contains("does not know 'queue'; list some of \"ticket\", \"role_name\", \"default\""), "{err}");
    assert!(err.contains("names 'default' twice"), "{err}");
}

#[test]
fn every_problem_is_reported_at_once_with_profile_key_and_remedy() {
    let text = r#"
listen = "everywhere"
colour = "blue"

[[profile]]
name = "A"
appliance_id = "bad id!"
appliance_host = "https://support.example.com/login"
client_id = "id"
client_secret = "oops-in-the-file"
autotask_username = "api@example.com"
outbound_event_types = ["support_session_end", "session_exploded"]
polling_event_types = ["customer_exit_survey_is_completed"]
update_time_entry = true
time_entry_default_data = { roleName = "Sample Role" }
retry_attempt_limit = 1000
time_entry_rounding_minutes = 600
time_entry_minimum_minutes = -5
wibble = 1

[[profile]]
appliance_host = "support.example.com"
client_id = "id"
autotask_username = "api@example.com"
automatic_ticket_creation_without_external_key = true
"#;
    let err = WorkerConfig::parse(text, Path::new("."), &store_for("A")).unwrap_err();
    let all = err.to_string();
    for expected in [
        "the file, key 'listen': 'everywhere' is not an address",
        "the file, key 'colour': is not a known setting",
        "profile 'A', key 'appliance_id': may hold only letters",
        "profile 'A', key 'appliance_host'",
        "without https:// or a path",
        "profile 'A', key 'client_secret': secrets never go in the file",
        "'session_exploded' is not an event type",
        "profile 'A', key 'polling_event_types': polling supports only support_session_end",
        "needs defaultDomain when update_time_entry is on",
        "needs summaryNotes when update_time_entry is on",
        "profile 'A', key 'retry_attempt_limit': is 1000",
        "profile 'A', key 'time_entry_rounding_minutes': is 600",
        "profile 'A', key 'time_entry_minimum_minutes': is -5",
        "profile 'A', key 'wibble': is not a known setting",
        "profile number 2, key 'name': is missing",
        "profile number 2, key 'automatic_ticket_creation_without_external_key': needs enable_automatic_ticket_creation",
        "profile number 2, key 'client_secret': the secret is not available; store it with: bt-autotask-worker secret set",
    ] {
        assert!(all.contains(expected), "missing «{expected}» in:\n{all}");
    }
    assert!(!all.contains("oops-in-the-file"), "a secret written in the file is never echoed");
}

#[test]
fn two_enabled_profiles_cannot_share_an_appliance_id() {
    let second = MINIMAL.replace("\"Desk\"", "\"Desk 2\"");
    let text = format!("{MINIMAL}{second}").replace("client_secret_env = \"BTA_TEST_NEVER_SET_1\"\n", "");
    let store = store_for("Desk");
    for setting in ["client_secret", "autotask_password", "autotask_integration_code"] {
        store.set(&SecretRef::store_key("Desk 2", setting), &Secret::new("x")).unwrap();
    }
    let err = WorkerConfig::parse(&text, Path::new("."), &store).unwrap_err();
    assert!(err.to_string().contains("'default' is used by another enabled profile"), "{err}");
    let fixed = text.replacen("name = \"Desk 2\"", "name = \"Desk 2\"\ndisabled = true", 1);
    WorkerConfig::parse(&fixed, Path::new("."), &store).unwrap();
}

#[test]
fn broken_toml_says_where() {
    let err = WorkerConfig::parse("[[profile]\nname = 1", Path::new("."), &NoStore).unwrap_err();
    assert!(err.0[0].starts_with("the file is not valid TOML"), "{err}");
}

#[test]
fn https_needs_both_files_and_says_which_cannot_be_read() {
    let profile = MINIMAL.replace("client_secret_env = \"BTA_TEST_NEVER_SET_1\"\n", "");
    let half = format!("tls_certificate_file = \"intake.crt\"\n{profile}");
    let err = WorkerConfig::parse(&half, Path::new("."), &store_for("Desk")).unwrap_err().to_string();
    assert!(err.contains("key 'tls_key_file': is needed with tls_certificate_file"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("tls_certificate_file = \"intake.crt\"\ntls_key_file = \"intake.key\"\n{profile}");
    let err = WorkerConfig::parse(&missing, dir.path(), &store_for("Desk")).unwrap_err().to_string();
    assert!(err.contains("key 'tls_certificate_file': HTTPS cannot be served") && err.contains("intake.crt"), "{err}");
    let plain = WorkerConfig::parse(&profile, Path::new("."), &store_for("Desk")).unwrap();
    assert!(plain.tls.is_none(), "plain HTTP stays the default");
}

#[test]
fn retention_is_days_with_fractions_allowed_and_said_in_words() {
    let profile = MINIMAL.replace("client_secret_env = \"BTA_TEST_NEVER_SET_1\"\n", "");
    let with = |days: &str| {
        WorkerConfig::parse(&format!("retention_days = {days}\n{profile}"), Path::new("."), &store_for("Desk"))
    };
    let default = WorkerConfig::parse(&profile, Path::new("."), &store_for("Desk")).unwrap();
    assert_eq!(describe_retention(default.retention), "90 days");
    assert_eq!(describe_retention(with("0.005").unwrap().retention), "7.2 minutes");
    assert_eq!(describe_retention(with("0.1").unwrap().retention), "2.4 hours");
    let err = with("0").unwrap_err().to_string();
    assert!(err.contains("key 'retention_days': is 0; it must be from 0.001 to 3650"), "{err}");
    let err = with("\"a week\"").unwrap_err().to_string();
    assert!(err.contains("key 'retention_days': must be a number, not string"), "{err}");
}

#[test]
fn the_desks_lookups_and_copy_of_the_tickets_are_kept_as_long_as_said() {
    let profile = MINIMAL.replace("client_secret_env = \"BTA_TEST_NEVER_SET_1\"\n", "");
    let with = |text: &str| WorkerConfig::parse(&format!("{text}\n{profile}"), Path::new("."), &store_for("Desk"));
    assert_eq!(with("").unwrap().search_copy, chrono::Duration::days(30));
    assert_eq!(with("search_copy_days = 7").unwrap().search_copy, chrono::Duration::days(7));
    let err = with("search_copy_days = 0").unwrap_err().to_string();
    assert!(err.contains("key 'search_copy_days': is 0"), "{err}");
    assert!(!with("").unwrap().autotask_webhooks && with("autotask_webhooks = true").unwrap().autotask_webhooks);
    assert_eq!(with("").unwrap().lookup_keep, std::time::Duration::from_secs(4 * 3600));
    assert_eq!(with("lookup_keep_minutes = 0.5").unwrap().lookup_keep, std::time::Duration::from_secs(30));
    let err = with("lookup_keep_minutes = 0").unwrap_err().to_string();
    assert!(err.contains("key 'lookup_keep_minutes': is 0; it must be from 0.001 to 10080"), "{err}");
}

#[test]
fn the_desk_is_served_to_enrolled_reps_over_https_and_followed_with_a_rep_token() {
    let text = MINIMAL.replace("client_secret_env = \"BTA_TEST_NEVER_SET_1\"\n", "");
    let parse = |top: &str, extra: &str, token: Option<&str>| {
        let store = store_for("Desk");
        if let Some(token) = token {
            store.set(&SecretRef::store_key("Desk", "desk_token"), &Secret::new(token)).unwrap();
        }
        WorkerConfig::parse(&format!("{top}\n{text}{extra}\n"), Path::new("."), &store)
    };
    let loopback = "listen = \"127.0.0.1:8180\"";
    let token = crate::gateway::enrol::new_rep_token();
    let token = Some(token.expose());
    assert!(matches!(parse("", "", None).unwrap().profiles[0].desk, DeskRole::Alone));
    let served = parse(loopback, "desk_watch = true", None).unwrap();
    assert!(matches!(&served.profiles[0].desk, DeskRole::Serves), "no shared token is needed");
    assert_eq!(served.desk_url().unwrap().as_str(), "http://127.0.0.1:8180/", "a loopback listener names itself");
    let upgraded = parse(loopback, "desk_watch = true\ndesk_token_env = \"OLD_DESK_TOKEN\"", None).unwrap();
    assert!(matches!(&upgraded.profiles[0].desk, DeskRole::Serves), "a retired token setting still loads");
    let public = parse("listen = \"127.0.0.1:8180\"\npublic_url = \"https://desk.example.com:8443\"", "", None);
    assert_eq!(public.unwrap().desk_url().unwrap().as_str(), "https://desk.example.com:8443/");
    let followed = parse("", "desk_worker_url = \"https://desk.example.com:8180\"", token).unwrap();
    match &followed.profiles[0].desk {
        DeskRole::Follows { url, takeover_after, .. } => {
            assert_eq!(url.as_str(), "https://desk.example.com:8180/");
            assert_eq!(takeover_after.as_secs(), 30 * 60, "30 minutes unless set");
        }
        other => panic!("{other:?}"),
    }

    let problems = |top: &str, extra: &str, token: Option<&str>| parse(top, extra, token).unwrap_err().0.join("\n");
    let in_clear = problems("listen = \"0.0.0.0:8180\"", "desk_watch = true", None);
    assert!(in_clear.contains("desk_watch") && in_clear.contains("tls_certificate_file"), "{in_clear}");
    assert!(problems("", "desk_watch = true", None).contains("in clear"), "0.0.0.0 is the default listener");
    let missing = problems("", "desk_worker_url = \"https://desk.example.com\"", None);
    assert!(missing.contains("key 'desk_token'"), "{missing}");
    let short = problems("", "desk_worker_url = \"https://desk.example.com\"", Some("letmein"));
    assert!(short.contains("shorter than 24") && short.contains("enrol") && !short.contains("letmein"), "{short}");
    let plain = problems("", "desk_worker_url = \"http://desk.example.com:8180\"", token);
    assert!(plain.contains("desk_worker_url") && plain.contains("use https"), "{plain}");
    let both = problems(loopback, "desk_watch = true\ndesk_worker_url = \"https://desk.example.com\"", token);
    assert!(both.contains("does not follow another"), "{both}");
    let insecure = problems("public_url = \"http://desk.example.com\"", "", None);
    assert!(insecure.contains("public_url") && insecure.contains("use https"), "{insecure}");

    // A desk of several workers: the others' addresses, and the balancers that name the clients.
    let several =
        "other_desk_urls = [\"https://w2.example.com:8180\"]\ntrusted_proxies = [\"10.0.0.5\", \"10.1.0.0/16\"]";
    let desk = parse(several, "", None).unwrap();
    assert_eq!(desk.other_desk_urls.iter().map(url::Url::as_str).collect::<Vec<_>>(), ["https://w2.example.com:8180/"]);
    assert_eq!(desk.serving.trusted_proxies.len(), 2);
    let followed = parse(
        "",
        "desk_worker_url = \"https://w1.example.com\"\ndesk_worker_other_urls = [\"https://w2.example.com\"]",
        token,
    );
    assert!(matches!(&followed.unwrap().profiles[0].desk, DeskRole::Follows { also, .. } if also.len() == 1));
    let wrong = problems("other_desk_urls = [\"http://w2.example.com\"]\ntrusted_proxies = [\"balancer\"]", "", None);
    assert!(wrong.contains("other_desk_urls") && wrong.contains("use https"), "{wrong}");
    assert!(wrong.contains("trusted_proxies") && wrong.contains("'balancer' is not an address"), "{wrong}");
    let plain_other =
        problems("", "desk_worker_url = \"https://w1.example.com\"\ndesk_worker_other_urls = [\"http://w2\"]", token);
    assert!(plain_other.contains("desk_worker_other_urls"), "{plain_other}");
}

#[test]
fn the_desk_console_is_on_loopback_unless_told_and_never_in_clear_elsewhere() {
    let store = store_for("A");
    let parse = |top: &str| {
        let text = format!(
            "{top}\n[[profile]]\nname = \"A\"\nappliance_host = \"bt.example.com\"\nclient_id = \"id\"\nautotask_username = \"api@example.com\"\n"
        );
        WorkerConfig::parse(&text, std::path::Path::new("."), &store)
    };
    assert_eq!(parse("").unwrap().console_listen, Some(DEFAULT_CONSOLE_LISTEN), "the seed's tool's address");
    assert_eq!(parse("console_listen = \"\"").unwrap().console_listen, None, "empty: no console");
    let other = parse("console_listen = \"127.0.0.1:9000\"").unwrap().console_listen;
    assert_eq!(other.map(|a| a.port()), Some(9000));
    let in_clear = parse("console_listen = \"0.0.0.0:53231\"").unwrap_err().0.join("\n");
    assert!(in_clear.contains("console_listen") && in_clear.contains("tls_certificate_file"), "{in_clear}");
    let wrong = parse("console_listen = \"the server\"").unwrap_err().0.join("\n");
    assert!(wrong.contains("not an address:port"), "{wrong}");
}

#[test]
fn the_outbound_event_url_comes_from_the_configuration() {
    let pem = |dir: &Path| {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["desk".to_owned()]).unwrap().self_signed(&key).unwrap();
        std::fs::write(dir.join("c.pem"), cert.pem()).unwrap();
        std::fs::write(dir.join("k.pem"), key.serialize_pem()).unwrap();
    };
    let dir = tempfile::tempdir().unwrap();
    pem(dir.path());
    let parse = |top: &str| {
        let text =
            format!("{top}\n{}", MINIMAL.replace("name = \"Desk\"", "name = \"Desk\"\nappliance_id = \"branch.eu\""));
        WorkerConfig::parse(&text, dir.path(), &SkipSecrets).unwrap()
    };
    let any = parse("listen = \"0.0.0.0:8180\"");
    let url = |c: &WorkerConfig, named: Option<&str>, reached: Option<&str>| {
        c.outbound_event_url(&c.profiles[0], named, reached)
    };
    assert_eq!(url(&any, None, None), "http://<this host>:8180/ERSPost?appliance=branch.eu");
    assert_eq!(url(&any, None, Some("[fd00::5]")), "http://[fd00::5]:8180/ERSPost?appliance=branch.eu", "IPv6 whole");
    assert_eq!(url(&any, Some("fd00::7"), Some("desk")), "http://[fd00::7]:8180/ERSPost?appliance=branch.eu");
    let tls = parse("listen = \"[::]:8443\"\ntls_certificate_file = \"c.pem\"\ntls_key_file = \"k.pem\"");
    assert_eq!(url(&tls, None, Some("desk.example.com")), "https://desk.example.com:8443/ERSPost?appliance=branch.eu");
    let public = parse(
        "listen = \"10.0.0.5:443\"\ntls_certificate_file = \"c.pem\"\ntls_key_file = \"k.pem\"\npublic_url = \"https://desk.example.com\"",
    );
    assert_eq!(url(&public, None, Some("elsewhere")), "https://desk.example.com/ERSPost?appliance=branch.eu");
    let fixed = parse("listen = \"10.0.0.5:8180\"\ntls_certificate_file = \"c.pem\"\ntls_key_file = \"k.pem\"");
    assert_eq!(url(&fixed, None, Some("elsewhere")), "https://10.0.0.5:8180/ERSPost?appliance=branch.eu");
}

#[test]
fn the_front_doors_settings_are_read_and_checked() {
    let config = WorkerConfig::parse(MINIMAL, Path::new("."), &SkipSecrets).unwrap();
    assert_eq!(config.serving, crate::serve::ServeSettings::default());
    assert!(
        config.may_monitor("127.0.0.1".parse().unwrap()) && config.may_monitor("::ffff:127.0.0.1".parse().unwrap())
    );
    assert!(!config.may_monitor("10.0.0.9".parse().unwrap()), "this machine only, unless named");
    let text = format!(
        "request_read_timeout_seconds = 5\nidle_timeout_seconds = 30\nmax_connections = 100\nrequest_body_limit_kib = 16\n\
         monitoring_allowlist = [\"10.0.0.0/24\"]\nrep_autotask_searches_per_hour = 50\nconsole_url = \"http://desk:53231\"\n{MINIMAL}"
    );
    let config = WorkerConfig::parse(&text, Path::new("."), &SkipSecrets).unwrap();
    assert_eq!(config.serving.request_read_timeout, std::time::Duration::from_secs(5));
    assert_eq!((config.serving.max_connections, config.serving.request_body_limit), (100, 16 * 1024));
    assert!(config.may_monitor("10.0.0.9".parse().unwrap()) && !config.may_monitor("127.0.0.1".parse().unwrap()));
    assert_eq!(config.rep_autotask_searches_per_hour, 50);
    assert_eq!(config.console_url.map(|u| u.to_string()), Some("http://desk:53231/".to_owned()));
    let bad = format!("monitoring_allowlist = [\"somewhere\"]\nmax_connections = 2\nconsole_url = \"desk\"\n{MINIMAL}");
    let problems = WorkerConfig::parse(&bad, Path::new("."), &SkipSecrets).unwrap_err().to_string();
    assert!(
        problems.contains("monitoring_allowlist")
            && problems.contains("max_connections")
            && problems.contains("console_url"),
        "{problems}"
    );
}

#[test]
fn a_store_on_postgresql_keeps_its_password_out_of_the_file_and_off_the_network_in_clear() {
    let text = MINIMAL.replace("client_secret_env = \"BTA_TEST_NEVER_SET_1\"\n", "");
    let parse = |top: &str| WorkerConfig::parse(&format!("{top}\n{text}"), Path::new("/etc/bta"), &store_for("Desk"));
    let config = parse(
        "store_url = \"postgres://bta@db.example.com/bta?sslmode=require\"\nstore_password_env = \"BTA_DB\"\n\
         token_key_file = \"worker.token-key\"\nstore_ca_file = \"db-ca.pem\"",
    )
    .unwrap();
    let postgres = config.postgres.unwrap();
    assert_eq!(postgres.password, SecretRef::Env("BTA_DB".into()));
    assert_eq!(postgres.token_key_file.as_deref(), Some(Path::new("/etc/bta/worker.token-key")));
    assert_eq!(postgres.ca_file.as_deref(), Some(Path::new("/etc/bta/db-ca.pem")));
    assert_eq!(parse("").unwrap().postgres, None, "SQLite unless store_url is set");
    let keyring = parse("store_url = \"postgres://bta@127.0.0.1/bta\"").unwrap().postgres.unwrap();
    assert_eq!(keyring.password, STORE_PASSWORD, "the keyring unless store_password_env is set");

    let in_file = parse("store_url = \"postgres://bta@127.0.0.1/bta\"\nstore_password = \"hunter2\"").unwrap_err();
    assert!(in_file.to_string().contains("secrets never go in the file") && !in_file.to_string().contains("hunter2"));
    let in_url = parse("store_url = \"postgres://bta:hunter2@127.0.0.1/bta\"").unwrap_err().to_string();
    assert!(in_url.contains("holds a password") && !in_url.contains("hunter2"), "{in_url}");
    let in_clear = parse("store_url = \"postgres://bta@db.example.com/bta\"").unwrap_err().to_string();
    assert!(in_clear.contains("sslmode=require"), "{in_clear}");
}
