//! The "Aide" page's content when an operator replaces the built-in help with their own
//! Markdown file (`help.file`): rendered on the server once, at start, and sanitized so that no
//! script, event handler, `javascript:` link, remote image or frame survives, whatever the file
//! holds.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

/// Largest help file accepted.
pub const MAX_BYTES: usize = 256 * 1024;

/// The sanitized HTML of a Markdown help text.
pub fn render(markdown: &str) -> String {
    let mut in_remote_image = 0usize;
    let events =
        Parser::new_ext(markdown, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH).filter_map(|event| {
            match event {
                // An image from elsewhere would tell a third party who reads the help: keep its
                // description as text.
                Event::Start(Tag::Image { dest_url, .. }) if !is_local(&dest_url) => {
                    in_remote_image += 1;
                    None
                }
                Event::End(TagEnd::Image) if in_remote_image > 0 => {
                    in_remote_image -= 1;
                    None
                }
                other => Some(other),
            }
        });
    let mut html = String::with_capacity(markdown.len() * 2);
    pulldown_cmark::html::push_html(&mut html, events);
    sanitizer().clean(&html).to_string()
}

/// A path on the portal itself (not `//host/…`, not a scheme).
fn is_local(url: &CowStr<'_>) -> bool {
    url.starts_with('/') && !url.starts_with("//")
}

fn sanitizer() -> ammonia::Builder<'static> {
    let mut b = ammonia::Builder::default();
    b.url_schemes(["https", "http", "mailto", "tel"].into_iter().collect())
        .link_rel(Some("noopener noreferrer"))
        .attribute_filter(|element, attribute, value| match (element, attribute) {
            // Only images served by the portal itself.
            ("img", "src") if !value.starts_with('/') || value.starts_with("//") => None,
            _ => Some(value.into()),
        });
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostile_help_file_keeps_its_text_and_loses_everything_active() {
        let hostile = concat!(
            "# Aide\n\nAppelez le support.\n\n",
            "<script>alert('x')</script>\n\n",
            "[Cliquez](javascript:alert(1)) et [le portail](https://www.norm-uni.fr/)\n\n",
            "<img src=x onerror=\"alert(2)\">\n\n",
            "![pisteur](https://tiers.example/pixel.png) ![logo](/static/logo.png)\n\n",
            "<a href=\"#\" onclick=\"steal()\">lien</a> <iframe src=\"https://evil.example\"></iframe>\n",
            "<p style=\"background:url(https://evil.example)\">stylé</p>\n"
        );
        let html = render(hostile);
        assert!(html.contains("<h1>Aide</h1>") && html.contains("Appelez le support."), "{html}");
        for gone in [
            "<script",
            "alert(",
            "javascript:",
            "onerror",
            "onclick",
            "<iframe",
            "tiers.example",
            "evil.example",
            "style=",
        ] {
            assert!(!html.contains(gone), "{gone} survived: {html}");
        }
        assert!(html.contains("href=\"https://www.norm-uni.fr/\""), "{html}");
        assert!(html.contains("rel=\"noopener noreferrer\""));
        assert!(html.contains("src=\"/static/logo.png\""), "a local image stays: {html}");
        assert!(html.contains("pisteur"), "a remote image keeps its description: {html}");
    }
}
