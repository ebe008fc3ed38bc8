/**
 * The files of a party's GitOps repository: one folder per component with one YAML file per
 * object (`<kind>-<name>.yaml`), the ThreatMesh CRDs in crds/, the Argo CD AppProject and
 * Applications in argocd/ (applied once by hand; they sync everything else), the resolved
 * values and a README. Pure: returns path -> content; the CLI writes and commits them.
 */
import { stringify } from 'yaml';
import { GROUP, KINDS, crdManifest } from '../operator/src/api/schemas/index.ts';
import { renderGitOps, renderInstall, type Manifest } from './app.ts';
import type { Values } from './values.ts';

const yaml = (d: unknown): string => stringify(d, { lineWidth: 0, aliasDuplicateObjects: false });
const HEADER = '# Rendered by `threatmesh gitops render`; change values.yaml and render again instead of editing.\n';

function fileName(o: Manifest): string {
  return `${o.kind.toLowerCase()}-${o.metadata.name}.yaml`;
}

function readme(v: Values, folders: readonly string[]): string {
  return `# ThreatMesh ${v.role} ${v.partnerId}

Rendered by \`threatmesh gitops render\` from \`values.yaml\`. Do not edit the manifests: change
\`values.yaml\`, render again into this folder and review the diff.

Bootstrap once (Argo CD then syncs every folder below from ${v.gitops.repoURL}):

    kubectl apply -f argocd/

| folder | what |
| --- | --- |
${folders.map((f) => `| \`${f}/\` | ${f === 'crds' ? 'ThreatMesh CustomResourceDefinitions (sync wave -1)' : `the ${f} component`} |`).join('\n')}
| \`argocd/\` | the AppProject and one Application per folder |

See docs/deploy.md of ThreatMesh for what each object is for.
`;
}

/** Every file of the repository for `values`, keyed by relative path. */
export function renderRepository(values: Values): Map<string, string> {
  const files = new Map<string, string>();
  const components = renderInstall(values);
  const folders = ['crds', ...components.map((c) => c.component)];
  for (const def of KINDS) files.set(`crds/${GROUP}_${def.plural}.yaml`, HEADER + yaml(crdManifest(def)));
  for (const c of components) for (const o of c.objects) files.set(`${c.component}/${fileName(o)}`, HEADER + yaml(o));
  for (const o of renderGitOps(values, folders)) files.set(`argocd/${fileName(o)}`, HEADER + yaml(o));
  files.set('values.yaml', `# Values of this repository (threatmesh gitops render --values values.yaml).\n${yaml(values)}`);
  files.set('README.md', readme(values, folders));
  return files;
}
