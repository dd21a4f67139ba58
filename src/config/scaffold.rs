//! The files `pactown init` writes: a two-service ecosystem (a FastAPI API with `/health` and a
//! static page that calls it). Pure: returns paths and contents, the command writes them.

/// One file to scaffold, relative to the target folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaffoldFile {
    /// Relative `/`-separated path.
    pub path: String,
    /// Contents.
    pub contents: String,
}

/// Name of the ecosystem file for an ecosystem name.
#[must_use]
pub fn file_name(name: &str) -> String {
    format!("{name}.pactown.yaml")
}

/// The files of a new ecosystem called `name` (already a valid service-style name), with the API
/// on `base_port + 1` and the page on `base_port + 2`.
#[must_use]
pub fn init_files(name: &str, base_port: u16) -> Vec<ScaffoldFile> {
    let api_port = base_port.saturating_add(1);
    let web_port = base_port.saturating_add(2);
    let eco = format!(
        "# Ecosystem created by `pactown init`.\n\
         # Check it:  pactown validate {file}\n\
         # Start it:  pactown up {file}\n\
         name: {name}\n\
         version: 0.1.0\n\
         description: A FastAPI service and a static page that calls it\n\
         base_port: {base_port}\n\
         services:\n\
         \x20 api:\n\
         \x20   readme: api/README.md\n\
         \x20   port: {api_port}\n\
         \x20   health_check: /health\n\
         \x20   env:\n\
         \x20     GREETING: Hello\n\
         \x20 web:\n\
         \x20   readme: web/README.md\n\
         \x20   port: {web_port}\n\
         \x20   health_check: /\n\
         \x20   depends_on:\n\
         \x20     - api\n",
        file = file_name(name),
    );
    vec![
        ScaffoldFile {
            path: file_name(name),
            contents: eco,
        },
        ScaffoldFile {
            path: "api/README.md".into(),
            contents: API_README.replace("{PORT}", &api_port.to_string()),
        },
        ScaffoldFile {
            path: "web/README.md".into(),
            contents: WEB_README.replace("{API_PORT}", &api_port.to_string()),
        },
    ]
}

const API_README: &str = r#"# api

A small JSON API. pactown builds a Python image from the blocks below and starts it with the port
in `MARKPACT_PORT`; `GET /health` tells pactown the service is ready.

## Dependencies

```python markpact:deps
fastapi
uvicorn
```

## Code

```python markpact:file path=main.py
import os

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

app = FastAPI(title="api")
# The page is served from another port, so the browser needs CORS to call this API.
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET"])


@app.get("/health")
def health():
    return {"status": "ok"}


@app.get("/api/hello")
def hello(name: str = "world"):
    greeting = os.environ.get("GREETING", "Hello")
    return {"message": f"{greeting}, {name}!", "service": os.environ.get("SERVICE_NAME", "api")}
```

## Run

```bash markpact:run
uvicorn main:app --host 0.0.0.0 --port ${MARKPACT_PORT:-{PORT}}
```

## Tests

```http markpact:test
GET /health EXPECT 200
GET /api/hello EXPECT 200
```
"#;

const WEB_README: &str = r#"# web

A static page that calls the `api` service from the browser. pactown serves these files itself
(no `run` block is needed for a static site).

```html markpact:file path=index.html
<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>pactown demo</title>
  <link rel="stylesheet" href="style.css">
</head>
<body>
  <h1>pactown demo</h1>
  <p>The API says: <strong id="message">…</strong></p>
  <script src="config.js"></script>
  <script src="app.js"></script>
</body>
</html>
```

```css markpact:file path=style.css
body { font-family: system-ui, sans-serif; margin: 3rem auto; max-width: 40rem; }
#message { color: #0a6; }
```

The browser runs on your machine, so it reaches the API on the port pactown publishes on
127.0.0.1 (the `port:` of `api` in the ecosystem file). Change it here if you change it there.

```javascript markpact:file path=config.js
window.API_URL = "http://localhost:{API_PORT}";
```

```javascript markpact:file path=app.js
fetch(window.API_URL + "/api/hello?name=pactown")
  .then((response) => response.json())
  .then((data) => { document.getElementById("message").textContent = data.message; })
  .catch((error) => { document.getElementById("message").textContent = "API unreachable: " + error; });
```

```http markpact:test
GET / EXPECT 200
GET /app.js EXPECT 200
```
"#;
