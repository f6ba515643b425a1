"""A small Flask shop API: the example application SCIA plans and deploys in the local stack."""

import os

import redis
from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("DATABASE_URL", "sqlite:///shop.db")
db = SQLAlchemy(app)
cache = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379/0"))


class Product(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(120), nullable=False)
    price_cents = db.Column(db.Integer, nullable=False)


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.get("/products")
def list_products():
    return jsonify([{"id": p.id, "name": p.name, "price_cents": p.price_cents} for p in Product.query.all()])


@app.post("/products")
def create_product():
    body = request.get_json(force=True)
    product = Product(name=body["name"], price_cents=int(body["price_cents"]))
    db.session.add(product)
    db.session.commit()
    cache.delete("products")
    return {"id": product.id}, 201


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "5000")))
