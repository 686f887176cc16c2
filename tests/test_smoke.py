from .conftest import greeted


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_greet_through_sync_shows_on_board(lobby1):
    event = greeted(payload={"purpose": "cash", "ticket": "A031"})
    response = lobby1.sync([event])
    assert response.get_json()["results"][0]["status"] == "accepted"
    board = lobby1.get("/lobby").get_data(as_text=True)
    assert f'data-visit-id="{event["subject_id"]}"' in board
    assert "A031" in board
