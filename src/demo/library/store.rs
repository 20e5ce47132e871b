//! The Library's in-memory store: shelves by id, each holding its books by
//! id, and the seed data. Book ids are unique across shelves.

use std::collections::BTreeMap;

use prost_types::Timestamp;
use tonic::Status;

use crate::proto::demo::v1::{Book, Genre, Shelf};

/// Shelves by id, each with its books by id.
#[derive(Debug)]
pub(super) struct Store {
    pub(super) shelves: BTreeMap<i64, ShelfEntry>,
    next_shelf: i64,
    next_book: i64,
}

/// A shelf and the books on it.
#[derive(Debug)]
pub(super) struct ShelfEntry {
    pub(super) shelf: Shelf,
    pub(super) books: BTreeMap<i64, Book>,
}

impl Store {
    /// Shelf 1 "Fiction" with books 1 to 3, shelf 2 "History" with books 4
    /// and 5.
    pub(super) fn seeded() -> Self {
        let mut store = Store { shelves: BTreeMap::new(), next_shelf: 1, next_book: 1 };
        let fiction = store.add_shelf("Fiction".into());
        let history = store.add_shelf("History".into());
        let seed = [
            (
                fiction,
                "The Left Hand of Darkness",
                "Ursula K. Le Guin",
                Genre::Fiction,
                304,
                &["sci-fi", "classic"][..],
                Some(-26_438_400),
            ),
            (
                fiction,
                "Pride & Prejudice",
                "Jane Austen",
                Genre::Fiction,
                432,
                &["romance", "classic"],
                Some(-4_952_102_400),
            ),
            (fiction, "Leaves of Grass", "Walt Whitman", Genre::Poetry, 145, &["verse"], None),
            (history, "SPQR", "Mary Beard", Genre::History, 608, &["rome", "antiquity"], Some(1_445_299_200)),
            (history, "The Guns of August", "Barbara W. Tuchman", Genre::History, 511, &["wwi"], None),
        ];
        for (shelf, title, author, genre, pages, tags, published) in seed {
            let book = Book {
                id: 0,
                title: title.into(),
                author: author.into(),
                genre: genre.into(),
                pages,
                tags: tags.iter().map(ToString::to_string).collect(),
                published: published.map(|seconds| Timestamp { seconds, nanos: 0 }),
            };
            // The shelves were just added, so this always succeeds.
            store.add_book(shelf, book);
        }
        store
    }

    /// Adds an empty shelf with a fresh id; returns the id.
    pub(super) fn add_shelf(&mut self, theme: String) -> i64 {
        let id = self.next_shelf;
        self.next_shelf += 1;
        self.shelves.insert(id, ShelfEntry { shelf: Shelf { id, theme }, books: BTreeMap::new() });
        id
    }

    /// Gives `book` a fresh id and puts it on `shelf`, if that exists.
    pub(super) fn add_book(&mut self, shelf: i64, mut book: Book) -> Option<Book> {
        let entry = self.shelves.get_mut(&shelf)?;
        book.id = self.next_book;
        self.next_book += 1;
        entry.books.insert(book.id, book.clone());
        Some(book)
    }

    /// The shelf `shelf`, or NOT_FOUND.
    pub(super) fn shelf_mut(&mut self, shelf: i64) -> Result<&mut ShelfEntry, Status> {
        self.shelves.get_mut(&shelf).ok_or_else(|| shelf_not_found(shelf))
    }

    /// The book `book` on `shelf`, or NOT_FOUND.
    pub(super) fn book_mut(&mut self, shelf: i64, book: i64) -> Result<&mut Book, Status> {
        self.shelf_mut(shelf)?.books.get_mut(&book).ok_or_else(|| book_not_found(shelf, book))
    }

    /// The book `book` on `shelf`, or on any shelf when `shelf` is 0.
    pub(super) fn find_book(&self, shelf: i64, book: i64) -> Result<&Book, Status> {
        if shelf == 0 {
            return self
                .shelves
                .values()
                .find_map(|entry| entry.books.get(&book))
                .ok_or_else(|| Status::not_found(format!("book {book} not found")));
        }
        let entry = self.shelves.get(&shelf).ok_or_else(|| shelf_not_found(shelf))?;
        entry.books.get(&book).ok_or_else(|| book_not_found(shelf, book))
    }
}

/// NOT_FOUND for a missing shelf.
pub(super) fn shelf_not_found(shelf: i64) -> Status {
    Status::not_found(format!("shelf {shelf} not found"))
}

/// NOT_FOUND for a book missing from a shelf.
pub(super) fn book_not_found(shelf: i64, book: i64) -> Status {
    Status::not_found(format!("book {book} not found on shelf {shelf}"))
}
