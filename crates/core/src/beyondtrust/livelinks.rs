//! The seed's two rep-console launch links (`client_script`): generate a session key tied to a
//! ticket, and Jump to the Jump Client of a ticket's device. Opening one in a browser makes the
//! installed representative console run the action; no API credentials are involved.

use url::Url;

fn client_script(base: &Url, action: &str, extra: &[(&str, &str)]) -> Url {
    let mut url = base.clone();
    url.set_path("/api/client_script");
    {
        let mut query = url.query_pairs_mut();
        query.clear().append_pair("type", "rep").append_pair("operation", "generate").append_pair("action", action);
        for (k, v) in extra {
            query.append_pair(k, v);
        }
    }
    url
}

/// Opens the console's Generate Session Key dialog with the ticket as the session's external key.
pub fn session_key_link(base: &Url, ticket_id: &str) -> Url {
    client_script(base, "generate_session_key", &[("session.custom.external_key", ticket_id)])
}

/// Starts a session with the pinned Jump Client matching `device_name`, tied to the ticket.
pub fn jump_link(base: &Url, device_name: &str, ticket_id: &str) -> Url {
    client_script(
        base,
        "start_pinned_client_session",
        &[("search_string", device_name), ("session.custom.external_key", ticket_id)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_built_and_encoded() {
        let base = Url::parse("https://support.example.com/").unwrap();
        assert_eq!(
            session_key_link(&base, "7201").as_str(),
            "https://support.example.com/api/client_script?type=rep&operation=generate&action=generate_session_key&session.custom.external_key=7201"
        );
        assert_eq!(
            jump_link(&base, "Front Desk & Co #1", "7201").as_str(),
            "https://support.example.com/api/client_script?type=rep&operation=generate&action=start_pinned_client_session&search_string=Front+Desk+%26+Co+%231&session.custom.external_key=7201"
        );
    }
}
