def test_health_and_ready(client):
    assert client.get("/health").get_json() == {"status": "ok"}
    body = client.get("/ready").get_json()
    assert body["status"] == "ok" and body["db"] == "ok" and body["migration"]


def test_engineer_lists_products(api):
    response = api("engineer").get("/api/v1/products/")
    assert response.status_code == 200
    assert {p["code"] for p in response.get_json()["result"]} == {"P-1001", "P-2001"}
