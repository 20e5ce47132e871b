//! The `demo.v1.Library` service: a small in-memory bookstore of shelves and
//! books, seeded with two shelves (1 "Fiction", 2 "History").
//!
//! Book ids are unique across shelves and survive a move, so GetBook also
//! finds a book by id alone when `shelf` is 0 (the `/v1/books/{book}`
//! binding). The store sits behind a std `Mutex` that is never held across an
//! `.await`. CreateBook answers with `x-http-code: 201` and the new book's
//! `x-http-header-location`, which the gateway turns into `201 Created` and
//! `Location`.

mod book;
mod store;

use std::sync::{Mutex, MutexGuard, PoisonError};

use tonic::{Request, Response, Status, metadata::MetadataValue};

use crate::proto::demo::v1::library_server::Library;
use crate::proto::demo::v1::{
    Book, CreateBookRequest, CreateShelfRequest, DeleteBookRequest, DeleteShelfRequest, Genre,
    GetBookRequest, GetShelfRequest, ListBooksRequest, ListBooksResponse, ListShelvesRequest,
    ListShelvesResponse, MoveBookRequest, Shelf, UpdateBookRequest,
};
use crate::proto::google::api::HttpBody;
use book::{Field, cover_svg, validate_book};
use store::{Store, book_not_found, shelf_not_found};

/// The Library service over its in-memory store.
#[derive(Debug)]
pub struct LibraryService {
    store: Mutex<Store>,
}

impl LibraryService {
    /// A library holding the seed shelves and books.
    pub fn seeded() -> Self {
        Self { store: Mutex::new(Store::seeded()) }
    }

    /// Locks the store. Nothing panics while holding it and every change
    /// leaves the store consistent, so a poisoned lock is still usable.
    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[tonic::async_trait]
impl Library for LibraryService {
    async fn list_shelves(
        &self,
        _: Request<ListShelvesRequest>,
    ) -> Result<Response<ListShelvesResponse>, Status> {
        let shelves = self.store().shelves.values().map(|entry| entry.shelf.clone()).collect();
        Ok(Response::new(ListShelvesResponse { shelves }))
    }

    async fn create_shelf(&self, request: Request<CreateShelfRequest>) -> Result<Response<Shelf>, Status> {
        let shelf =
            request.into_inner().shelf.ok_or_else(|| Status::invalid_argument("shelf is required"))?;
        if shelf.theme.trim().is_empty() {
            return Err(Status::invalid_argument("shelf.theme must not be empty"));
        }
        let mut store = self.store();
        let id = store.add_shelf(shelf.theme);
        Ok(Response::new(store.shelf_mut(id)?.shelf.clone()))
    }

    async fn get_shelf(&self, request: Request<GetShelfRequest>) -> Result<Response<Shelf>, Status> {
        let id = request.into_inner().shelf;
        Ok(Response::new(self.store().shelf_mut(id)?.shelf.clone()))
    }

    async fn delete_shelf(&self, request: Request<DeleteShelfRequest>) -> Result<Response<()>, Status> {
        let id = request.into_inner().shelf;
        self.store().shelves.remove(&id).ok_or_else(|| shelf_not_found(id))?;
        Ok(Response::new(()))
    }

    async fn list_books(
        &self,
        request: Request<ListBooksRequest>,
    ) -> Result<Response<ListBooksResponse>, Status> {
        let req = request.into_inner();
        let limit = usize::try_from(req.page_size).map_err(|_| {
            Status::invalid_argument(format!("page_size must not be negative, got {}", req.page_size))
        })?;
        let genre = Genre::try_from(req.genre)
            .map_err(|_| Status::invalid_argument(format!("genre: unknown value {}", req.genre)))?;
        let mut store = self.store();
        let books = store
            .shelf_mut(req.shelf)?
            .books
            .values()
            .filter(|book| genre == Genre::Unspecified || book.genre == i32::from(genre))
            .take(if limit == 0 { usize::MAX } else { limit })
            .cloned()
            .collect();
        Ok(Response::new(ListBooksResponse { books }))
    }

    async fn create_book(&self, request: Request<CreateBookRequest>) -> Result<Response<Book>, Status> {
        let req = request.into_inner();
        let book = req.book.ok_or_else(|| Status::invalid_argument("book is required"))?;
        validate_book(&book)?;
        let created = self.store().add_book(req.shelf, book).ok_or_else(|| shelf_not_found(req.shelf))?;
        // Through the gateway: 201 Created, with the new book's location.
        let location = format!("/v1/shelves/{}/books/{}", req.shelf, created.id);
        let mut response = Response::new(created);
        response.metadata_mut().insert("x-http-code", MetadataValue::from_static("201"));
        if let Ok(location) = location.parse() {
            response.metadata_mut().insert("x-http-header-location", location);
        }
        Ok(response)
    }

    async fn get_book(&self, request: Request<GetBookRequest>) -> Result<Response<Book>, Status> {
        let req = request.into_inner();
        Ok(Response::new(self.store().find_book(req.shelf, req.book)?.clone()))
    }

    /// Copies the fields named by `update_mask` (all updatable fields when it
    /// is empty) from `book` onto the stored book `book.id`.
    async fn update_book(&self, request: Request<UpdateBookRequest>) -> Result<Response<Book>, Status> {
        let req = request.into_inner();
        let patch = req.book.ok_or_else(|| Status::invalid_argument("book is required"))?;
        let fields = match req.update_mask {
            Some(mask) if !mask.paths.is_empty() => {
                mask.paths.iter().map(|path| Field::parse(path)).collect::<Result<Vec<_>, _>>()?
            }
            _ => Field::ALL.to_vec(),
        };
        let mut store = self.store();
        let stored = store.book_mut(req.shelf, patch.id)?;
        let mut updated = stored.clone();
        for field in fields {
            field.copy(&patch, &mut updated);
        }
        validate_book(&updated)?;
        *stored = updated.clone();
        Ok(Response::new(updated))
    }

    async fn delete_book(&self, request: Request<DeleteBookRequest>) -> Result<Response<()>, Status> {
        let req = request.into_inner();
        let mut store = self.store();
        store
            .shelf_mut(req.shelf)?
            .books
            .remove(&req.book)
            .ok_or_else(|| book_not_found(req.shelf, req.book))?;
        Ok(Response::new(()))
    }

    async fn move_book(&self, request: Request<MoveBookRequest>) -> Result<Response<Book>, Status> {
        let req = request.into_inner();
        let mut store = self.store();
        if !store.shelves.contains_key(&req.to_shelf) {
            return Err(Status::not_found(format!("to_shelf {} not found", req.to_shelf)));
        }
        let source = store.shelf_mut(req.shelf)?;
        let book = source.books.remove(&req.book).ok_or_else(|| book_not_found(req.shelf, req.book))?;
        store.shelf_mut(req.to_shelf)?.books.insert(book.id, book.clone());
        Ok(Response::new(book))
    }

    async fn get_book_cover(&self, request: Request<GetBookRequest>) -> Result<Response<HttpBody>, Status> {
        let req = request.into_inner();
        let svg = cover_svg(self.store().find_book(req.shelf, req.book)?);
        Ok(Response::new(HttpBody {
            content_type: "image/svg+xml".into(),
            data: svg.into_bytes(),
            extensions: Vec::new(),
        }))
    }
}
