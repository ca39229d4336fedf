"""The Flask side of Phial's field benchmark (scripts/bench-field.sh).

The blog's /field/... endpoints, its REST list and the async table's two
pages, written the way a Flask user would: Flask-SQLAlchemy over the blog's
own SQLite file, Jinja2 rendering the blog's own template file,
Flask-Caching (SimpleCache, per worker) for the cached page, Flask-RESTful
for the list, and for the async table a sync view and an ``async def`` view
awaiting three PostgreSQL queries with ``asyncio.gather``.

Run under gunicorn's gthread worker (the script sets workers and threads):

    FIELD_SQLITE=blog.sqlite FIELD_TEMPLATES=examples/blog/templates \
    FIELD_POSTGRES=postgresql://127.0.0.1/phial_field \
    gunicorn -k gthread --workers 2 --threads 8 app:app
"""

import asyncio
import os

import psycopg
from flask import Flask, abort, jsonify, render_template, request
from flask_caching import Cache
from flask_restful import Api, Resource
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import create_engine, text
from sqlalchemy.dialects.sqlite import DATETIME
from sqlalchemy.orm import joinedload

THREADS = int(os.environ.get("FIELD_THREADS", "8"))

app = Flask(__name__, template_folder=os.environ["FIELD_TEMPLATES"])
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.abspath(
    os.environ["FIELD_SQLITE"]
)
# One connection per worker thread: what the threads can use at once.
app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_size": THREADS, "max_overflow": 0}
app.config["CACHE_TYPE"] = "SimpleCache"
db = SQLAlchemy(app)
cache = Cache(app)
api = Api(app)

# The blog's rows store times as RFC 3339 text (sqlx's format).
Stamp = DATETIME(
    regexp=r"(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)(?:\.(\d{1,6})\d*)?"
)


class Author(db.Model):
    __tablename__ = "author"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(100))
    email = db.Column(db.String(200))


class Post(db.Model):
    __tablename__ = "post"
    id = db.Column(db.Integer, primary_key=True)
    author_id = db.Column(db.Integer, db.ForeignKey("author.id"))
    title = db.Column(db.String(200))
    body = db.Column(db.Text)
    published = db.Column(db.Boolean)
    created_at = db.Column(Stamp)
    author = db.relationship(Author)

    def to_dict(self):
        return {
            "id": self.id,
            "author_id": self.author_id,
            "title": self.title,
            "body": self.body,
            "published": self.published,
            "created_at": self.created_at.isoformat() + "Z",
        }


@app.get("/field/plaintext")
def plaintext():
    return "Hello, World!", 200, {"Content-Type": "text/plain; charset=utf-8"}


@app.get("/field/json")
def json_message():
    return jsonify(message="Hello, World!")


@app.get("/field/posts/<int:post_id>")
def one_post(post_id):
    post = db.session.execute(
        db.select(Post).filter_by(id=post_id, published=True)
    ).scalar_one_or_none()
    if post is None:
        abort(404, f"no published post {post_id}")
    return jsonify(post.to_dict())


def latest_page():
    posts = db.session.scalars(
        db.select(Post)
        .options(joinedload(Post.author))
        .filter_by(published=True)
        .order_by(Post.created_at.desc(), Post.id.desc())
        .limit(12)
    ).all()
    rows = [
        {
            "id": p.id,
            "title": p.title,
            "author": p.author.name if p.author else None,
            "created_at": p.created_at.strftime("%Y-%m-%d %H:%M"),
        }
        for p in posts
    ]
    return render_template("field/posts.html", posts=rows)


@app.get("/field/posts")
def latest():
    return latest_page()


@app.get("/field/cached")
@cache.cached(timeout=300)
def cached():
    return latest_page()


class PostList(Resource):
    """Published posts, newest first: the page and its count."""

    def get(self):
        page = max(request.args.get("page", 1, type=int), 1)
        per_page = min(max(request.args.get("per_page", 20, type=int), 1), 100)
        published = db.select(Post).filter_by(published=True)
        total = db.session.scalar(
            db.select(db.func.count()).select_from(published.subquery())
        )
        items = db.session.scalars(
            published.order_by(Post.created_at.desc(), Post.id)
            .offset((page - 1) * per_page)
            .limit(per_page + 1)
        ).all()
        more = len(items) > per_page
        pages = max(-(-total // per_page), 1)

        def link(n):
            return f"/api/posts?page={n}&per_page={per_page}"

        links = {"self": link(page), "first": link(1), "last": link(pages)}
        if more:
            links["next"] = link(page + 1)
        return {
            "items": [p.to_dict() for p in items[:per_page]],
            "total": total,
            "page": page,
            "pages": pages,
            "per_page": per_page,
            "links": links,
        }


api.add_resource(PostList, "/api/posts")

# The async table: three 100 ms queries in PostgreSQL.
POSTGRES = os.environ.get("FIELD_POSTGRES")
SLEEP = "SELECT pg_sleep(0.1)"
# The sync view's pool: one connection per thread, as above.
pg = (
    create_engine(
        POSTGRES.replace("postgresql://", "postgresql+psycopg://", 1),
        pool_size=THREADS,
        max_overflow=0,
    )
    if POSTGRES
    else None
)


@app.get("/io/sequential")
def io_sequential():
    if pg is None:
        abort(501, "set FIELD_POSTGRES")
    with pg.connect() as conn:
        for _ in range(3):
            conn.execute(text(SLEEP))
    return jsonify(queries=3)


async def slow_query():
    # A connection per query: Flask runs each async view in an event loop
    # of its own, which a pool of async connections cannot outlive.
    async with await psycopg.AsyncConnection.connect(POSTGRES) as conn:
        await conn.execute(SLEEP)


@app.get("/io/joined")
async def io_joined():
    if pg is None:
        abort(501, "set FIELD_POSTGRES")
    await asyncio.gather(slow_query(), slow_query(), slow_query())
    return jsonify(queries=3)
