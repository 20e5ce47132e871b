//! The demo bookstore through the gateway, as the README shows it.

use serde_json::json;

use crate::support::gateway::Harness;

#[tokio::test]
async fn read_a_book() {
    let gateway = Harness::start().await;
    let (status, book) = gateway.get_json("/v1/shelves/1/books/2").await;
    assert_eq!(status, 200, "{book}");
    assert_eq!(book["id"], "2");
    assert!(book["title"].as_str().is_some_and(|t| !t.is_empty()), "{book}");
}

#[tokio::test]
async fn create_update_move_and_delete_a_book() {
    let gateway = Harness::start().await;
    let (status, created) = gateway
        .send_json(
            "POST",
            "/v1/shelves/1/books",
            r#"{"title":"Dune","author":"Frank Herbert","genre":"FICTION","pages":412}"#,
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();

    // The mask is filled from the keys sent: only the title changes.
    let (status, updated) =
        gateway.send_json("PATCH", &format!("/v1/shelves/1/books/{id}"), r#"{"title":"Dune Messiah"}"#).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["title"], "Dune Messiah");
    assert_eq!(updated["author"], "Frank Herbert");
    assert_eq!(updated["pages"], 412);

    let (status, moved) =
        gateway.send_json("POST", &format!("/v1/shelves/1/books/{id}:move"), r#"{"toShelf":"2"}"#).await;
    assert_eq!(status, 200, "{moved}");
    let (status, _) =
        gateway.get_json(&format!("/v1/shelves/2/books/{}", moved["id"].as_str().unwrap())).await;
    assert_eq!(status, 200);

    let (status, body) = gateway
        .send_json("DELETE", &format!("/v1/shelves/2/books/{}", moved["id"].as_str().unwrap()), "")
        .await;
    assert_eq!((status, body), (200, json!({})));
}

#[tokio::test]
async fn list_with_query_filters() {
    let gateway = Harness::start().await;
    let (status, body) = gateway.get_json("/v1/shelves/1/books?page_size=1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["books"].as_array().unwrap().len(), 1);
    let (_, body) = gateway.get_json("/v1/shelves/1/books?genre=POETRY").await;
    let titles: Vec<&str> =
        body["books"].as_array().unwrap().iter().map(|b| b["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Leaves of Grass"], "{body}");
}

#[tokio::test]
async fn a_missing_shelf_is_the_backends_404() {
    let gateway = Harness::start().await;
    let (status, body) = gateway.get_json("/v1/shelves/999").await;
    assert_eq!((status, body["code"].clone()), (404, json!(5)));
    assert!(!body["message"].as_str().unwrap().starts_with("no route"), "{body}");
}

#[tokio::test]
async fn the_cover_is_an_image() {
    let gateway = Harness::start().await;
    let response = gateway.client.get(gateway.url("/v1/shelves/1/books/2/cover")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    assert!(response.text().await.unwrap().contains("<svg"));
}
