// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// Validate Kubernetes manifests against the API's schemas (kubernetes-models,
// generated from the Kubernetes OpenAPI definitions): node check.mjs FILE...
// One line per document ("ok KIND NAME" or "FILE: KIND NAME: error"); exit 1
// if any document is invalid or of a kind this checker does not know.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { Namespace, ConfigMap } from "kubernetes-models/v1";
import { DaemonSet } from "kubernetes-models/apps/v1";

const kinds = { "v1/Namespace": Namespace, "v1/ConfigMap": ConfigMap,
                "apps/v1/DaemonSet": DaemonSet };
let bad = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length) {
      console.log(`${file}: YAML: ${doc.errors[0].message}`);
      bad++;
      continue;
    }
    const obj = doc.toJS();
    const what = `${obj.kind} ${obj.metadata?.name}`;
    const Model = kinds[`${obj.apiVersion}/${obj.kind}`];
    if (!Model) {
      console.log(`${file}: ${what}: unknown kind ${obj.apiVersion}/${obj.kind}`);
      bad++;
      continue;
    }
    try {
      new Model(obj).validate();
      console.log(`ok ${what}`);
    } catch (e) {
      console.log(`${file}: ${what}: ${e.message.split("\n").slice(0, 3).join(" ")}`);
      bad++;
    }
  }
}
process.exit(bad ? 1 : 0);
