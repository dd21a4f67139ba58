//! Dependency edits on real engines: a Python service (uv) and a Node service (npm install) are
//! built, then rebuilt after adding one dependency and after removing one. Each rebuild must
//! install on top of the service's previous dependency image (its `io.pactown.deps-depth` label
//! grows), and the running container must import exactly the listed packages: the added one is
//! there and the old ones still are; after the removal, the removed one is gone. The Python
//! image must also hold bytecode for the installed modules, no uv cache, and the same package set
//! pip resolves for the same requirement lines (`pip install --dry-run --report` in the
//! container).
use crate::common;
use crate::images::{build, remove_images};
use pactown::config::labels;
use pactown::engine::{ContainerSpec, Engine, EngineKind};
use pactown::image::ServiceImage;
use std::collections::BTreeSet;
use std::time::Duration;

/// A README whose run block keeps the container alive (the test execs into it).
fn readme(runtime: &str, deps: &[&str], run: &str) -> String {
    format!(
        "```{runtime} markpact:deps\n{}\n```\n\n```bash markpact:run\n{run}\n```\n",
        deps.join("\n")
    )
}

/// Starts the image, runs each `(command, must succeed)` in it, removes the container.
async fn check_in_container(engine: &dyn Engine, image: &ServiceImage, checks: &[(&str, bool)]) {
    let spec = ContainerSpec {
        name: common::unique(&format!("pactown-itest-{}", image.service)),
        image: image.tag.clone(),
        init: true,
        ..ContainerSpec::default()
    };
    let id = engine.create_container(&spec).await.unwrap();
    engine.start_container(&id).await.unwrap();
    let mut failures = Vec::new();
    for (cmd, ok) in checks {
        let out = engine
            .exec(
                &id,
                &["/bin/sh".to_string(), "-c".to_string(), (*cmd).to_string()],
                Duration::from_secs(120),
            )
            .await
            .unwrap();
        if (out.exit_code == Some(0)) != *ok {
            failures.push(format!(
                "`{cmd}` exit {:?} (wanted success: {ok}): {}",
                out.exit_code, out.output
            ));
        }
    }
    let _ = engine.remove_container(&id).await;
    assert!(failures.is_empty(), "{}: {failures:#?}", image.tag);
}

/// Removes a service's images with its dependency images and its seed tag.
fn cleanup(kind: EngineKind, runtime: pactown::markpact::Runtime, images: &[&ServiceImage]) {
    let mut tags: BTreeSet<String> = BTreeSet::new();
    for image in images {
        tags.insert(image.tag.clone());
        tags.extend(image.deps_image.clone());
        tags.insert(pactown::image::cache_key::deps_seed_tag(
            runtime,
            &image.service,
        ));
    }
    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    remove_images(kind, &tags);
}

/// The dependency image tag a README gives (as `build` packs it).
fn deps_tag_of(service: &str, readme: &str) -> String {
    let doc = pactown::markpact::parse(std::path::Path::new("README.md"), readme.as_bytes())
        .unwrap_or_else(|d| panic!("{d}"));
    let ca = crate::images::ca_bundle().map(|p| std::fs::read(p).unwrap());
    pactown::image::prepare(&doc, service, ca.as_deref())
        .unwrap()
        .context
        .deps
        .unwrap()
        .tag
}

/// The depth label of the image a service image was built on.
async fn deps_depth(engine: &dyn Engine, image: &ServiceImage) -> u32 {
    let info = engine.image(&image.tag).await.unwrap().unwrap();
    info.labels
        .get(labels::DEPS_DEPTH)
        .unwrap_or_else(|| {
            panic!(
                "{}: no {} label: {:?}",
                image.tag,
                labels::DEPS_DEPTH,
                info.labels
            )
        })
        .parse()
        .unwrap()
}

async fn python_dependency_added_and_removed(kind: EngineKind) {
    let Some(engine) = common::connect(kind).await else {
        return;
    };
    let service = common::unique("it-deps-py");
    let run = "exec sleep 600";
    // a marker requirement no other test uses gives this test its own dependency images
    let marker = format!("six ; sys_platform != \"{service}\"");
    let requests = "requests[socks]>=2.31 ; python_version >= \"3.8\"";
    let first = build(
        engine.as_ref(),
        &service,
        &readme("python", &[&marker, requests], run),
    )
    .await;
    assert_eq!(deps_depth(engine.as_ref(), &first).await, 0);
    let site = "/opt/venv/lib/python3.11/site-packages";
    check_in_container(
        engine.as_ref(),
        &first,
        &[
            ("python -c 'import six, requests, socks'", true),
            ("python -c 'import attrs'", false),
            // bytecode compiled at build time, no uv cache left behind
            (&format!("ls {site}/__pycache__/six.cpython-311.pyc"), true),
            (&format!("ls {site}/requests/__pycache__/ | grep -q cpython-311.pyc"), true),
            ("test ! -e /tmp/uv-cache && test ! -e /home/app/.cache/uv", true),
            // pip resolves the same set for the same lines
            (
                "pip install --quiet --dry-run --ignore-installed --report /tmp/pip.json \
                 -r /app/requirements.txt \
                 && python -c 'import json,sys,importlib.metadata as m; \
                 pip={(i[\"metadata\"][\"name\"].lower().replace(\"_\",\"-\"), i[\"metadata\"][\"version\"]) \
                 for i in json.load(open(\"/tmp/pip.json\"))[\"install\"]}; \
                 have={(d.metadata[\"Name\"].lower().replace(\"_\",\"-\"), d.version) \
                 for d in m.distributions()}; \
                 have={p for p in have if p[0] not in (\"pip\", \"setuptools\", \"wheel\")}; \
                 print(sorted(pip ^ have)); sys.exit(pip != have)'",
                true,
            ),
        ],
    )
    .await;

    // add one: installed on top of the previous dependency image
    let added = build(
        engine.as_ref(),
        &service,
        &readme("python", &[&marker, requests, "attrs"], run),
    )
    .await;
    assert_eq!(deps_depth(engine.as_ref(), &added).await, 1);
    check_in_container(
        engine.as_ref(),
        &added,
        &[
            ("python -c 'import six, requests, socks, attrs'", true),
            (
                &format!("ls {site}/attr/__pycache__/ | grep -q cpython-311.pyc"),
                true,
            ),
        ],
    )
    .await;

    // remove one: gone from the virtualenv
    let removed = build(
        engine.as_ref(),
        &service,
        &readme(
            "python",
            &[
                requests,
                "attrs",
                &format!("idna ; sys_platform != \"{service}\""),
            ],
            run,
        ),
    )
    .await;
    assert_eq!(deps_depth(engine.as_ref(), &removed).await, 2);
    check_in_container(
        engine.as_ref(),
        &removed,
        &[
            ("python -c 'import requests, socks, attrs'", true),
            ("python -c 'import six'", false),
            (&format!("ls {site} | grep -qi '^six'"), false),
        ],
    )
    .await;
    cleanup(
        kind,
        pactown::markpact::Runtime::Python,
        &[&first, &added, &removed],
    );
}

async fn node_dependency_added_and_removed(kind: EngineKind) {
    let Some(engine) = common::connect(kind).await else {
        return;
    };
    let service = common::unique("it-deps-node");
    let run = "exec sleep 600";
    let readmes = [
        readme("node", &["left-pad@1.3.0", "dayjs@1.11.10"], run),
        readme(
            "node",
            &["left-pad@1.3.0", "dayjs@1.11.10", "zod@3.22.4"],
            run,
        ),
        readme("node", &["dayjs@1.11.10", "zod@3.22.4"], run),
    ];
    // the manifests are the same in every run: drop dependency images an earlier run left
    let stale: Vec<String> = readmes.iter().map(|r| deps_tag_of(&service, r)).collect();
    remove_images(kind, &stale.iter().map(String::as_str).collect::<Vec<_>>());
    let first = build(engine.as_ref(), &service, &readmes[0]).await;
    assert_eq!(deps_depth(engine.as_ref(), &first).await, 0);
    // Debian's npm brings modules of its own (/usr/share/nodejs): the check is that the
    // service's node_modules resolves them (and that `require` works)
    check_in_container(
        engine.as_ref(),
        &first,
        &[
            (&node_resolves(&["left-pad", "dayjs"]), true),
            (&node_resolves(&["zod"]), false),
        ],
    )
    .await;
    let added = build(engine.as_ref(), &service, &readmes[1]).await;
    assert_eq!(deps_depth(engine.as_ref(), &added).await, 1);
    check_in_container(
        engine.as_ref(),
        &added,
        &[(&node_resolves(&["left-pad", "dayjs", "zod"]), true)],
    )
    .await;
    let removed = build(engine.as_ref(), &service, &readmes[2]).await;
    assert_eq!(deps_depth(engine.as_ref(), &removed).await, 2);
    check_in_container(
        engine.as_ref(),
        &removed,
        &[
            (&node_resolves(&["dayjs", "zod"]), true),
            (&node_resolves(&["left-pad"]), false),
            (
                "test ! -e /app/node_modules/left-pad && test ! -e /home/app/.npm",
                true,
            ),
        ],
    )
    .await;
    cleanup(
        kind,
        pactown::markpact::Runtime::Node,
        &[&first, &added, &removed],
    );
}

const PNPM_LOCK: &str = "lockfileVersion: '9.0'

settings:
  autoInstallPeers: true
  excludeLinksFromLockfile: false

importers:

  .:
    dependencies:
      dayjs:
        specifier: 1.11.10
        version: 1.11.10
      left-pad:
        specifier: 1.3.0
        version: 1.3.0

packages:

  dayjs@1.11.10:
    resolution: {integrity: sha512-vjAczensTgRcqDERK0SR2XMwsF/tSvnvlv6VcF2GIhg6Sx4yOIt/irsr1RDJsKiIyBzJDpCoXiWWq28MqH2cnQ==}

  left-pad@1.3.0:
    resolution: {integrity: sha512-XI5MPzVNApjAyhQzphX8BkmKsKUxD4LdyK24iZeQGinBN9yTQT3bFlCBy/aVx2HrNcqQGsdot8ghrjyrvMCoEA==}

snapshots:

  dayjs@1.11.10: {}

  left-pad@1.3.0: {}
";

/// A README that asks for pnpm: a `package.json` whose `packageManager` names pnpm, with a
/// `pnpm-lock.yaml` file block (installed `--frozen-lockfile`) or without (plain `pnpm install`).
fn pnpm_readme(deps: &[&str], lock: bool) -> String {
    let deps: Vec<String> = deps
        .iter()
        .map(|d| {
            let (name, version) = d.rsplit_once('@').unwrap();
            format!("\"{name}\": \"{version}\"")
        })
        .collect();
    let mut text = format!(
        "```json markpact:file path=package.json\n{{\"name\": \"lockdemo\", \"private\": true, \
         \"packageManager\": \"pnpm@10.34.9\", \"dependencies\": {{{}}}}}\n```\n\n",
        deps.join(", ")
    );
    if lock {
        text.push_str(&format!(
            "```yaml markpact:file path=pnpm-lock.yaml\n{PNPM_LOCK}```\n\n"
        ));
    }
    text.push_str("```bash markpact:run\nexec sleep 600\n```\n");
    text
}

/// pnpm where the README asks for it: the lock file is installed frozen, a later manifest
/// without the lock is installed on top of that dependency image (pnpm reconciles
/// `node_modules`), the packages resolve from the service's `node_modules` (pnpm's layout:
/// `.pnpm/`), and pnpm's store is not in the image.
async fn pnpm_lockfile_then_added_dependency(kind: EngineKind) {
    let Some(engine) = common::connect(kind).await else {
        return;
    };
    let service = common::unique("it-deps-pnpm");
    let readmes = [
        pnpm_readme(&["left-pad@1.3.0", "dayjs@1.11.10"], true),
        pnpm_readme(&["left-pad@1.3.0", "dayjs@1.11.10", "zod@3.22.4"], false),
    ];
    let stale: Vec<String> = readmes.iter().map(|r| deps_tag_of(&service, r)).collect();
    remove_images(kind, &stale.iter().map(String::as_str).collect::<Vec<_>>());
    let locked = build(engine.as_ref(), &service, &readmes[0]).await;
    assert_eq!(deps_depth(engine.as_ref(), &locked).await, 0);
    check_in_container(
        engine.as_ref(),
        &locked,
        &[
            (&node_resolves(&["left-pad", "dayjs"]), true),
            (&node_resolves(&["zod"]), false),
            ("test -d /app/node_modules/.pnpm/left-pad@1.3.0", true),
            (
                "test ! -e /tmp/pnpm-store && test ! -e /home/app/.local/share/pnpm",
                true,
            ),
        ],
    )
    .await;
    let added = build(engine.as_ref(), &service, &readmes[1]).await;
    assert_eq!(deps_depth(engine.as_ref(), &added).await, 1);
    check_in_container(
        engine.as_ref(),
        &added,
        &[(&node_resolves(&["left-pad", "dayjs", "zod"]), true)],
    )
    .await;
    cleanup(kind, pactown::markpact::Runtime::Node, &[&locked, &added]);
}

crate::per_engine!(async:
    python_dependency_added_and_removed,
    node_dependency_added_and_removed,
    pnpm_lockfile_then_added_dependency,
);

/// A shell command that exits 0 when each of `names` can be required in /app and resolves to
/// the service's own node_modules (Debian's npm brings modules of its own).
fn node_resolves(names: &[&str]) -> String {
    let list: Vec<String> = names
        .iter()
        .map(|n| {
            format!(
                "require('{n}'); if (!require.resolve('{n}').startsWith('/app/node_modules/')) \
                 process.exit(3);"
            )
        })
        .collect();
    format!("cd /app && node -e \"{}\"", list.join(""))
}
