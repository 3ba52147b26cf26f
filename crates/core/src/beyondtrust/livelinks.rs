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

/// What an admin pastes into Autotask (the seed's two LiveLinks) and into BeyondTrust (the
/// rep-console custom link to the ticket), built for one appliance and Autotask web UI.
pub fn setup_instructions(appliance: &Url, autotask_web: &Url, outbound_url: &str) -> String {
    let base = {
        let mut url = appliance.clone();
        url.set_path("/api/client_script.ns");
        url.set_query(None);
        url
    };
    let ticket_link = format!(
        "{}Autotask/Views/ServiceDesk/ServiceDeskTicket/service_ticket.aspx?ticketID=%SESSION.CUSTOM.EXTERNAL_KEY%",
        autotask_web
    );
    let livelink = |name: &str, description: &str, query: &str| {
        format!(
            "  LiveLink Name:             {name}\n  Label:                     {name}\n  Description:               {description}\n  \
             Active:                    checked\n  Category:                  Service Desk\n  LiveLink Application Name: BeyondTrust\n  \
             Entity:                    Ticket\n  Base URL:                  {base}\n  Querystring Values:        {query}\n  \
             Configuration tab:         check Ticket Details Window - Service Desk and Ticket Grid - Service Desk\n"
        )
    };
    format!(
        "Autotask › Admin › Automation › Autoforms & LiveLinks › LiveLinks Designer (application \"BeyondTrust\"):\n\n{}\n{}\n\
         BeyondTrust /login › Rep Console › Custom Links:\n  Name: Autotask Ticket\n  URL:  {ticket_link}\n\n\
         BeyondTrust /login › Management › Outbound Events › HTTP Recipients:\n  URL:  {outbound_url}\n  \
         Events to Send: Support Session End, Customer Exit Survey is Completed, Representative Survey is Completed\n  \
         (and Someone Joins a Support Session for automatic ticket creation)\n",
        livelink(
            "BeyondTrust Jump To CI",
            "BeyondTrust Jump To CI",
            "?type=rep&operation=generate&action=start_pinned_client_session&search_string=<UDF-Device Name(ATG_InstalledProduct)>&session.custom.external_key=<TICKETID>"
        ),
        livelink(
            "BeyondTrust Session Key",
            "Generate BeyondTrust Session Key",
            "?type=rep&operation=generate&action=generate_session_key&session.custom.external_key=<TICKETID>"
        ),
    )
}

#[cfg(test)]
mod setup_tests {
    use super::*;

    #[test]
    fn instructions_hold_the_seeds_links_for_this_appliance_and_instance() {
        let text = setup_instructions(
            &Url::parse("https://support.example.com/").unwrap(),
            &Url::parse("https://ww5.autotask.net/").unwrap(),
            "http://middleware.example.com:8180/ERSPost",
        );
        assert!(text.contains("Base URL:                  https://support.example.com/api/client_script.ns"));
        assert!(
            text.contains(
                "search_string=<UDF-Device Name(ATG_InstalledProduct)>&session.custom.external_key=<TICKETID>"
            )
        );
        assert!(text.contains("action=generate_session_key&session.custom.external_key=<TICKETID>"));
        assert!(text.contains(
            "https://ww5.autotask.net/Autotask/Views/ServiceDesk/ServiceDeskTicket/service_ticket.aspx?ticketID=%SESSION.CUSTOM.EXTERNAL_KEY%"
        ));
        assert!(text.contains("http://middleware.example.com:8180/ERSPost"));
    }
}
