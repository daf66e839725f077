#!/usr/bin/env bash
# The fleet manifests (packaging/kubernetes/): every document valid against the
# Kubernetes API's schemas (kubernetes-models, pinned by tests/k8s/package-lock.json),
# the DaemonSet's arguments options of this agent, the ConfigMap's policy a policy
# this agent loads, and what the Containerfile copies built by the Makefile.
. "$(dirname "$0")/../lib.sh"

k8s=$MF_SRC/packaging/kubernetes
if [ ! -d "$MF_SRC/tests/k8s/node_modules/kubernetes-models" ]; then
	skip_all "tests/k8s: npm ci not run (scripts/deps.sh runs it)"
fi
out=$(node "$MF_SRC/tests/k8s/check.mjs" "$k8s/mcpfence.yaml")
ok $? "the manifests validate against the Kubernetes API schemas"
sed 's/^/# /' <<<"$out"
is "$(echo "$out" | tr '\n' ' ')" \
	"ok Namespace mcpfence ok ConfigMap mcpfence-policy ok DaemonSet mcpfenced " \
	"a Namespace, the policy's ConfigMap and the DaemonSet"

# The checker refuses what the API would (the test can fail).
sed 's/hostPID: true/hostPID: "yes"/; s/mountPath: \/run\/mcpfence/mountPat: \/run\/mcpfence/' \
	"$k8s/mcpfence.yaml" >"$MF_TMP/bad.yaml"
out=$(node "$MF_SRC/tests/k8s/check.mjs" "$MF_TMP/bad.yaml")
is "$?" 1 "a mistyped field and a misspelt key are refused"
like "$out" "hostPID must be boolean" "and named"

# The DaemonSet's arguments are options of mcpfenced --help.
(cd "$MF_SRC/tests/k8s" && node --input-type=module -e '
	import { readFileSync } from "node:fs";
	import { parseAllDocuments } from "yaml";
	for (const d of parseAllDocuments(readFileSync(process.argv[1], "utf8"))) {
		const o = d.toJS();
		if (o.kind === "DaemonSet")
			console.log(o.spec.template.spec.containers[0].args.join("\n"));
		if (o.kind === "ConfigMap")
			process.stderr.write(o.data["policy.json"]);
	}' "$k8s/mcpfence.yaml") >"$MF_TMP/args" 2>"$MF_TMP/policy.json"
missing=
for a in $(sed 's/=.*//' "$MF_TMP/args"); do
	"$MF_BUILD/mcpfenced" --help | grep -q -- "^  $a\b" || missing+=" $a"
done
is "$missing" "" "every argument of the DaemonSet is an option of mcpfenced"
like "$(cat "$MF_TMP/args")" "--watch-policy" "the policy is reloaded when the ConfigMap changes"
like "$(cat "$MF_TMP/args")" "--audit-log=-" "the audit records go to stdout"
"$MF_BUILD/mcpfence" policy check "$MF_TMP/policy.json" >/dev/null
ok $? "the ConfigMap's policy passes mcpfence policy check"

# What the Containerfile copies exists after make, and it installs runtime libraries.
missing=
for f in $(sed -n 's|^COPY --from=build /src/\([^ ]*\) .*|\1|p' "$k8s/Containerfile"); do
	[ -e "$MF_SRC/$f" ] || missing+=" $f"
done
is "$missing" "" "what the Containerfile copies from the build exists"
is "$(grep -c '^FROM ' "$k8s/Containerfile")" 2 "two stages: build, then runtime libraries only"
done_testing
