//! Writing the appliance's XML: escaping, and the documents' namespaces.

/// The Remote Support namespaces the stand-in answers with.
pub const REPORTING_NS: &str = "https://www.beyondtrust.com/namespaces/API/reporting";
pub const COMMAND_NS: &str = "https://www.beyondtrust.com/namespaces/API/command";

/// Escapes text for element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// `<name attrs>text</name>` with everything escaped.
pub fn element(name: &str, attributes: &[(&str, &str)], text: &str) -> String {
    let mut out = format!("<{name}");
    for (k, v) in attributes {
        out.push_str(&format!(" {k}=\"{}\"", escape(v)));
    }
    out.push('>');
    out.push_str(&escape(text));
    out.push_str(&format!("</{name}>"));
    out
}

/// A command API answer: `<error>` or `<success>` or any root, in the command namespace.
pub fn command_document(root: &str, inner: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root} xmlns=\"{COMMAND_NS}\">{inner}</{root}>")
}

pub fn error_document(message: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error xmlns=\"{COMMAND_NS}\">{}</error>", escape(message))
}
