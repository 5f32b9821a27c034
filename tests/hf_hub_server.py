"""A Hugging Face Hub stand-in on 127.0.0.1 for upload tests: FastAPI app, uvicorn in a background thread.

    with HubServer() as hub:                       # then HF_ENDPOINT=hub.endpoint, HF_TOKEN=anything
        HfApi(endpoint=hub.endpoint, token="t").upload_folder(...)
        hub.repos["me/model"]                      # {"private": bool, "files": {path: bytes}, "commits": [...]}

Speaks the Hub HTTP API that `huggingface_hub.HfApi.create_repo` and `upload_folder` use, with the real
shapes: POST /api/repos/create {"name", "organization"?, "visibility" (or "private"), "type"?} -> {"url", "name"} (409 when it
exists: the client's exist_ok handles that); POST /api/models/{repo}/preupload/{rev} {"files": [{"path",
"sample", "size"}]} -> {"files": [{"path", "uploadMode": "regular", "shouldIgnore": false}]}; POST
/api/validate-yaml {"content": README.md, "repoType"} (its front matter, parsed with PyYAML) -> {"errors": [],
"warnings": []} or 400 with the errors; POST
/api/models/{repo}/commit/{rev} (NDJSON: a header line, then one {"key": "file", "value": {"path",
"content", "encoding": "base64"}} per file) -> {"commitUrl", "commitOid", "success"}. Requests without a
"Bearer" token get 401, as the Hub answers.

Simplified: every file is uploaded "regular" (inline base64): no LFS / Xet transfer, which the Hub would ask
for large files; one branch (main); no repo deletion or listing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from threaded_uvicorn import ThreadedUvicorn


class HubServer:
    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self.repos: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []
        self.validated: list[dict[str, Any]] = []      # model-card metadata the client sent for validation
        self.app = self._build()
        self._runner = ThreadedUvicorn(self.app, host, 0, name="Hub stand-in")
        self.port = self._runner.port

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def auth(request: Request, call_next):
            self.calls.append(f"{request.method} {request.url.path}")
            if not request.headers.get("authorization", "").startswith("Bearer "):
                return JSONResponse({"error": "Invalid credentials in Authorization header"}, status_code=401)
            return await call_next(request)

        @app.post("/api/repos/create")
        async def create(request: Request):
            body = await request.json()
            repo_id = f"{body['organization']}/{body['name']}" if body.get("organization") else body["name"]
            if repo_id in self.repos:
                return JSONResponse({"error": "You already created this model repo", "url": self._url(repo_id)},
                                    status_code=409)
            private = body.get("visibility") == "private" or bool(body.get("private"))   # newer / older clients
            self.repos[repo_id] = {"private": private, "files": {}, "commits": []}
            return {"url": self._url(repo_id), "name": repo_id}

        @app.post("/api/validate-yaml")
        async def validate_yaml(request: Request):
            import yaml

            body = await request.json()
            content = body["content"]          # the whole README.md; the metadata is its front matter
            front = content.split("---", 2)[1] if content.startswith("---") and content.count("---") >= 2 else ""
            try:
                metadata = yaml.safe_load(front)
            except yaml.YAMLError as err:
                return JSONResponse({"errors": [{"message": f"invalid YAML: {err}"}]}, status_code=400)
            if not isinstance(metadata, dict):
                return JSONResponse({"errors": [{"message": "metadata must be a YAML mapping"}]}, status_code=400)
            self.validated.append(metadata)
            return {"errors": [], "warnings": []}

        @app.post("/api/models/{namespace}/{name}/preupload/{revision}")
        async def preupload(namespace: str, name: str, revision: str, request: Request):
            body = await request.json()
            if f"{namespace}/{name}" not in self.repos:
                return JSONResponse({"error": "Repository not found"}, status_code=404)
            return {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                              for f in body["files"]]}

        @app.post("/api/models/{namespace}/{name}/commit/{revision}")
        async def commit(namespace: str, name: str, revision: str, request: Request):
            repo_id = f"{namespace}/{name}"
            if repo_id not in self.repos:
                return JSONResponse({"error": "Repository not found"}, status_code=404)
            header, files = {}, {}
            for line in (await request.body()).decode().splitlines():
                if not line.strip():
                    continue
                item = json.loads(line)
                if item["key"] == "header":
                    header = item["value"]
                elif item["key"] == "file":
                    value = item["value"]
                    files[value["path"]] = base64.b64decode(value["content"]) if value.get("encoding") == "base64" \
                        else value["content"].encode()
                else:
                    return JSONResponse({"error": f"unsupported operation {item['key']}"}, status_code=400)
            self.repos[repo_id]["files"].update(files)
            oid = hashlib.sha1(json.dumps(sorted(files)).encode() + str(time.time()).encode()).hexdigest()
            self.repos[repo_id]["commits"].append({"summary": header.get("summary"), "oid": oid})
            return {"commitUrl": f"{self._url(repo_id)}/commit/{oid}", "commitOid": oid, "success": True}

        return app

    def _url(self, repo_id: str) -> str:
        return f"{self.endpoint}/{repo_id}"

    def __enter__(self) -> "HubServer":
        self._runner.start()
        return self

    def __exit__(self, *exc) -> None:
        self._runner.stop()
