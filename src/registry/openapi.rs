//! The OpenAPI 3.0 document served at `/openapi.json`, maintained by hand next to the router.
//! A test checks that its paths and methods are exactly [`super::server::ROUTES`], and the API
//! tests check every documented status code against the running server.
use super::model::{MAX_DESCRIPTION_CHARS, MAX_README_BYTES, MAX_TAGS, MAX_TAG_CHARS};
use serde_json::{json, Value};

/// The semver 2.0 regular expression from semver.org.
const SEMVER_PATTERN: &str = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$";

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

fn ok(description: &str, schema: &Value) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": schema}}
    })
}

fn path_param(name: &str, description: &str) -> Value {
    json!({
        "name": name, "in": "path", "required": true, "description": description,
        "schema": {"type": "string"}
    })
}

fn query_param(name: &str, description: &str) -> Value {
    json!({
        "name": name, "in": "query", "required": false, "description": description,
        "schema": {"type": "string"}
    })
}

/// The OpenAPI document of the registry API.
#[must_use]
#[allow(clippy::too_many_lines)]
pub fn document() -> Value {
    let ns = path_param("namespace", "Namespace of the artifact");
    let name = path_param("name", "Artifact name");
    let version = path_param("version", "Semver version, or `latest` for the highest one");
    let artifact_ref = json!({"$ref": "#/components/schemas/ArtifactInfo"});
    let rate = error_response("Rate limit exceeded; see the Retry-After header");
    let not_found = error_response("Not found");
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Pactown Registry",
            "description": "Registry of markpact READMEs. Reads are open; publish and delete need a bearer token scoped to the namespace. Every refused request gets a 4xx with the ErrorBody JSON (application/json), also those refused before routing: 400 bad_request (malformed request line, header or body length), 414 uri_too_long (request target over 8 KiB), 431 headers_too_large (head over 32 KiB or more than 64 header fields), 408, 429 and 503 (connection limits).",
            "version": env!("CARGO_PKG_VERSION")
        },
        "paths": {
            (super::server::HEALTH): {"get": {
                "operationId": "health",
                "responses": {
                    "200": ok("Server is up", &json!({"type": "object", "required": ["status", "service"],
                        "properties": {"status": {"type": "string"}, "service": {"type": "string"}}})),
                    "429": rate
                }
            }},
            (super::server::OPENAPI): {"get": {
                "operationId": "openapi",
                "responses": {"200": ok("This document", &json!({"type": "object"})), "429": rate}
            }},
            (super::server::ARTIFACTS): {"get": {
                "operationId": "listArtifacts",
                "parameters": [query_param("namespace", "Only this namespace"),
                               query_param("search", "Case-insensitive text in name, description or tags")],
                "responses": {
                    "200": ok("Artifacts sorted by namespace/name", &json!({"type": "array", "items": artifact_ref})),
                    "400": error_response("Malformed query string"),
                    "429": rate
                }
            }},
            (super::server::ARTIFACT): {
                "get": {
                    "operationId": "getArtifact",
                    "parameters": [ns, name],
                    "responses": {"200": ok("The artifact", &artifact_ref), "400": error_response("Malformed path"), "404": not_found, "429": rate}
                },
                "delete": {
                    "operationId": "deleteArtifact",
                    "security": [{"bearer": []}],
                    "parameters": [ns, name],
                    "responses": {
                        "200": ok("Deleted", &json!({"type": "object", "required": ["success", "message"],
                            "properties": {"success": {"type": "boolean"}, "message": {"type": "string"}}})),
                        "400": error_response("Malformed path"),
                        "401": error_response("Missing or unknown token"),
                        "403": error_response("Token not scoped to this namespace, or read-only registry"),
                        "404": not_found,
                        "429": rate
                    }
                }
            },
            (super::server::VERSION): {"get": {
                "operationId": "getVersion",
                "parameters": [ns, name, version],
                "responses": {
                    "200": ok("The version with its README", &json!({"$ref": "#/components/schemas/VersionInfo"})),
                    "400": error_response("Malformed path"), "404": not_found, "429": rate
                }
            }},
            (super::server::README): {"get": {
                "operationId": "getReadme",
                "parameters": [ns, name, version],
                "responses": {
                    "200": ok("The README", &json!({"type": "object", "required": ["content"],
                        "properties": {"content": {"type": "string"}}})),
                    "400": error_response("Malformed path"), "404": not_found, "429": rate
                }
            }},
            (super::server::PUBLISH): {"post": {
                "operationId": "publish",
                "security": [{"bearer": []}],
                "requestBody": {"required": true, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/PublishRequest"}}}},
                "responses": {
                    "200": ok("Published (or the same content was already published)",
                        &json!({"$ref": "#/components/schemas/PublishResponse"})),
                    "400": error_response("Malformed JSON"),
                    "401": error_response("Missing or unknown token"),
                    "403": error_response("Token not scoped to the namespace, or read-only registry"),
                    "409": error_response("Version already published with other content"),
                    "413": error_response("README or body too large"),
                    "415": error_response("Content-Type is not application/json"),
                    "422": error_response("Invalid name, namespace, version, tags or README"),
                    "429": rate
                }
            }},
            (super::server::NAMESPACES): {"get": {
                "operationId": "listNamespaces",
                "responses": {
                    "200": ok("Namespaces that have artifacts", &json!({"type": "object", "required": ["namespaces"],
                        "properties": {"namespaces": {"type": "array", "items": {"type": "string"}}}})),
                    "429": rate
                }
            }}
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "message"], "properties": {
                    "error": {"type": "string"}, "message": {"type": "string"}}},
                "ArtifactInfo": {"type": "object",
                    "required": ["name", "namespace", "description", "latest_version", "versions", "tags"],
                    "properties": {
                        "name": {"type": "string"}, "namespace": {"type": "string"},
                        "description": {"type": "string"},
                        "latest_version": {"type": "string", "nullable": true},
                        "versions": {"type": "array", "items": {"type": "string"}},
                        "tags": {"type": "array", "items": {"type": "string"}}}},
                "VersionInfo": {"type": "object",
                    "required": ["version", "readme_content", "checksum", "published_at", "metadata"],
                    "properties": {
                        "version": {"type": "string"}, "readme_content": {"type": "string"},
                        "checksum": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                        "published_at": {"type": "string"},
                        "metadata": {"type": "object"}}},
                "PublishRequest": {"type": "object", "required": ["name", "version", "readme_content"],
                    "properties": {
                        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$"},
                        "version": {"type": "string", "description": "Semver 2.0 version; published versions are immutable",
                            "pattern": SEMVER_PATTERN, "maxLength": super::model::MAX_VERSION_BYTES},
                        "readme_content": {"type": "string", "minLength": 1, "maxLength": MAX_README_BYTES,
                            "description": "A markpact README (must parse, else 422), at most 1 MiB of UTF-8"},
                        "namespace": {"type": "string", "default": "default", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$"},
                        "description": {"type": "string", "default": "", "maxLength": MAX_DESCRIPTION_CHARS},
                        "tags": {"type": "array", "default": [], "maxItems": MAX_TAGS,
                            "items": {"type": "string", "minLength": 1, "maxLength": MAX_TAG_CHARS}},
                        "metadata": {"type": "object", "default": {},
                            "description": "Free metadata, at most 8 KiB as compact JSON (kept in the index)"}}},
                "PublishResponse": {"type": "object", "required": ["success", "artifact", "version", "checksum"],
                    "properties": {
                        "success": {"type": "boolean"},
                        "artifact": {"type": "string", "description": "namespace/name"},
                        "version": {"type": "string"},
                        "checksum": {"type": "string", "description": "sha256 of the README, hex"}}}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn documents_exactly_the_routes() {
        let doc = document();
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.insert((method.clone(), path.clone()));
            }
        }
        let served: BTreeSet<(String, String)> = super::super::server::ROUTES
            .iter()
            .map(|(m, p)| ((*m).to_string(), (*p).to_string()))
            .collect();
        assert_eq!(documented, served);
    }

    #[test]
    fn refs_resolve() {
        let doc = document();
        let text = doc.to_string();
        for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = part.split('"').next().unwrap();
            assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "missing schema {name}"
            );
        }
    }
}
