//! Book-level rules of the Library: validation, the `update_mask` paths
//! UpdateBook accepts, and the SVG cover.

use tonic::Status;

use crate::proto::demo::v1::{Book, Genre};

/// Rejects a book with no title, negative pages, an unknown genre or an
/// out-of-range timestamp.
pub(super) fn validate_book(book: &Book) -> Result<(), Status> {
    if book.title.trim().is_empty() {
        return Err(Status::invalid_argument("book.title must not be empty"));
    }
    if book.pages < 0 {
        return Err(Status::invalid_argument(format!("book.pages must not be negative, got {}", book.pages)));
    }
    if Genre::try_from(book.genre).is_err() {
        return Err(Status::invalid_argument(format!("book.genre: unknown value {}", book.genre)));
    }
    if book.published.as_ref().is_some_and(|ts| !(0..1_000_000_000).contains(&ts.nanos)) {
        return Err(Status::invalid_argument("book.published: nanos must be in [0, 1e9)"));
    }
    Ok(())
}

/// A field UpdateBook may change, named by an `update_mask` path.
#[derive(Debug, Clone, Copy)]
pub(super) enum Field {
    Title,
    Author,
    Genre,
    Pages,
    Tags,
    Published,
}

impl Field {
    /// Every updatable field: what an empty mask means.
    pub(super) const ALL: [Field; 6] =
        [Field::Title, Field::Author, Field::Genre, Field::Pages, Field::Tags, Field::Published];

    /// The field named `path`, or INVALID_ARGUMENT.
    pub(super) fn parse(path: &str) -> Result<Self, Status> {
        Ok(match path {
            "title" => Field::Title,
            "author" => Field::Author,
            "genre" => Field::Genre,
            "pages" => Field::Pages,
            "tags" => Field::Tags,
            "published" => Field::Published,
            _ => {
                return Err(Status::invalid_argument(format!(
                    "update_mask: unknown path {path:?}; updatable: title, author, genre, pages, tags, published"
                )));
            }
        })
    }

    /// Copies this field from `from` onto `to`.
    pub(super) fn copy(self, from: &Book, to: &mut Book) {
        match self {
            Field::Title => to.title.clone_from(&from.title),
            Field::Author => to.author.clone_from(&from.author),
            Field::Genre => to.genre = from.genre,
            Field::Pages => to.pages = from.pages,
            Field::Tags => to.tags.clone_from(&from.tags),
            Field::Published => to.published = from.published,
        }
    }
}

/// An SVG cover showing the title and author.
pub(super) fn cover_svg(book: &Book) -> String {
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="200" height="300" viewBox="0 0 200 300"><rect width="200" height="300" fill="#2f4858"/><text x="100" y="140" font-family="serif" font-size="16" fill="#ffffff" text-anchor="middle">{}</text><text x="100" y="170" font-family="serif" font-size="12" fill="#cccccc" text-anchor="middle">{}</text></svg>"##,
        escape_xml(&book.title),
        escape_xml(&book.author)
    )
}

/// Escapes XML's special characters and drops the control characters XML
/// 1.0 cannot hold.
fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape_xml;

    #[test]
    fn escapes_xml() {
        assert_eq!(
            escape_xml("Tom & \"Jerry\" <'x'>\u{1}"),
            "Tom &amp; &quot;Jerry&quot; &lt;&apos;x&apos;&gt;"
        );
    }
}
