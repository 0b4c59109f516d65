package generate

import "github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"

// The objects the generator writes, as small structs of their own: only the
// fields it sets, no zero-value noise (creationTimestamp: null, status: {}).
// The tests decode every one of them strictly into the real API types
// (kustomize, ArgoCD, kube-apiserver) so they cannot drift.

type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

type objectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type subject struct {
	APIGroup  string `json:"apiGroup,omitempty"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

type roleRef struct {
	APIGroup string `json:"apiGroup"`
	Kind     string `json:"kind"`
	Name     string `json:"name"`
}

type binding struct {
	typeMeta `json:",inline"`
	Metadata objectMeta `json:"metadata"`
	RoleRef  roleRef    `json:"roleRef"`
	Subjects []subject  `json:"subjects"`
}

type clusterRole struct {
	typeMeta `json:",inline"`
	Metadata objectMeta          `json:"metadata"`
	Rules    []config.PolicyRule `json:"rules"`
}

type kustomization struct {
	typeMeta     `json:",inline"`
	Resources    []string      `json:"resources,omitempty"`
	Patches      []patch       `json:"patches,omitempty"`
	Replacements []replacement `json:"replacements,omitempty"`
	Components   []string      `json:"components,omitempty"`
}

type patch struct {
	Path   string    `json:"path"`
	Target *selector `json:"target,omitempty"`
}

// selector picks resources in a kustomization (kind and name are anchored
// regular expressions).
type selector struct {
	Group   string `json:"group,omitempty"`
	Version string `json:"version,omitempty"`
	Kind    string `json:"kind"`
	Name    string `json:"name"`
}

// replacement copies a field from one resource to others; the generated
// ones copy a field onto itself, to make the build fail when it is missing.
type replacement struct {
	Source  replacementSource   `json:"source"`
	Targets []replacementTarget `json:"targets"`
}

type replacementSource struct {
	selector  `json:",inline"`
	FieldPath string `json:"fieldPath"`
}

type replacementTarget struct {
	Select     selector `json:"select"`
	FieldPaths []string `json:"fieldPaths"`
	Options    struct {
		Create bool `json:"create"`
	} `json:"options"`
}

// workloadPatch is a strategic-merge patch of a workload's pod template:
// lists merge by name (containers, volumes, env) and mountPath
// (volumeMounts).
type workloadPatch struct {
	typeMeta `json:",inline"`
	Metadata objectMeta        `json:"metadata"`
	Spec     workloadSpecPatch `json:"spec"`
}

// workloadSpecPatch is the spec of a workload: its pod template, or a
// CronJob's job template holding one.
type workloadSpecPatch struct {
	Template    *podTemplatePatch `json:"template,omitempty"`
	JobTemplate *jobTemplatePatch `json:"jobTemplate,omitempty"`
}

type podTemplatePatch struct {
	Spec podSpecPatch `json:"spec"`
}

type jobTemplatePatch struct {
	Spec workloadSpecPatch `json:"spec"`
}

type podSpecPatch struct {
	InitContainers []container `json:"initContainers,omitempty"`
	Containers     []container `json:"containers"`
	Volumes        []volume    `json:"volumes"`
}

type container struct {
	Name            string           `json:"name"`
	Image           string           `json:"image,omitempty"`
	ImagePullPolicy string           `json:"imagePullPolicy,omitempty"`
	Args            []string         `json:"args,omitempty"`
	Resources       *resources       `json:"resources,omitempty"`
	SecurityContext *securityContext `json:"securityContext,omitempty"`
	Env             []envVar         `json:"env,omitempty"`
	VolumeMounts    []volumeMount    `json:"volumeMounts"`
}

type envVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type resources struct {
	Requests map[string]string `json:"requests,omitempty"`
	Limits   map[string]string `json:"limits,omitempty"`
}

type securityContext struct {
	AllowPrivilegeEscalation bool `json:"allowPrivilegeEscalation"`
	Capabilities             struct {
		Drop []string `json:"drop"`
	} `json:"capabilities"`
	ReadOnlyRootFilesystem bool `json:"readOnlyRootFilesystem"`
	RunAsNonRoot           bool `json:"runAsNonRoot"`
	SeccompProfile         struct {
		Type string `json:"type"`
	} `json:"seccompProfile"`
}

type volumeMount struct {
	Name      string `json:"name"`
	MountPath string `json:"mountPath"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
}

type volume struct {
	Name      string           `json:"name"`
	EmptyDir  *emptyDir        `json:"emptyDir,omitempty"`
	Projected *projected       `json:"projected,omitempty"`
	ConfigMap *configMapVolume `json:"configMap,omitempty"`
	Secret    *secretVolume    `json:"secret,omitempty"`
}

// secretVolume is a Secret volume source: only the items listed, with
// defaultMode; not optional (the pod does not start without the Secret).
type secretVolume struct {
	SecretName  string      `json:"secretName"`
	Items       []keyToPath `json:"items,omitempty"`
	DefaultMode *int32      `json:"defaultMode,omitempty"`
}

type keyToPath struct {
	Key  string `json:"key"`
	Path string `json:"path"`
}

type configMapVolume struct {
	Name string `json:"name"`
}

type emptyDir struct {
	SizeLimit string `json:"sizeLimit,omitempty"`
}

type projected struct {
	Sources []projectedSource `json:"sources"`
}

type projectedSource struct {
	ServiceAccountToken serviceAccountToken `json:"serviceAccountToken"`
}

type serviceAccountToken struct {
	Audience          string `json:"audience"`
	ExpirationSeconds int64  `json:"expirationSeconds"`
	Path              string `json:"path"`
}

// authenticationConfiguration is apiserver.config.k8s.io
// AuthenticationConfiguration (v1 and v1beta1 have the same shape for the
// fields used here).
type authenticationConfiguration struct {
	typeMeta `json:",inline"`
	JWT      []jwtAuthenticator `json:"jwt"`
}

type jwtAuthenticator struct {
	Issuer               issuer           `json:"issuer"`
	ClaimValidationRules []validationRule `json:"claimValidationRules,omitempty"`
	ClaimMappings        claimMappings    `json:"claimMappings"`
	UserValidationRules  []validationRule `json:"userValidationRules"`
}

type issuer struct {
	URL                  string   `json:"url"`
	DiscoveryURL         string   `json:"discoveryURL,omitempty"`
	CertificateAuthority string   `json:"certificateAuthority,omitempty"`
	Audiences            []string `json:"audiences"`
	// AudienceMatchPolicy is MatchAny when there are several audiences.
	AudienceMatchPolicy string `json:"audienceMatchPolicy,omitempty"`
}

type claimMappings struct {
	Username prefixedClaim  `json:"username"`
	Groups   *prefixedClaim `json:"groups,omitempty"`
}

// prefixedClaim is a claim and its prefix, or a CEL expression (then
// neither claim nor prefix; a prefix is never empty, so omitempty never
// drops one that is set).
type prefixedClaim struct {
	Claim      string `json:"claim,omitempty"`
	Prefix     string `json:"prefix,omitempty"`
	Expression string `json:"expression,omitempty"`
}

// validationRule is a CEL claimValidationRule or userValidationRule.
type validationRule struct {
	Expression string `json:"expression"`
	Message    string `json:"message"`
}

// openIDConnect is Gardener's authentication.gardener.cloud/v1alpha1
// OpenIDConnect (oidc-webhook-authenticator).
type openIDConnect struct {
	typeMeta `json:",inline"`
	Metadata objectMeta        `json:"metadata"`
	Spec     openIDConnectSpec `json:"spec"`
}

type openIDConnectSpec struct {
	IssuerURL      string `json:"issuerURL"`
	ClientID       string `json:"clientID"`
	UsernameClaim  string `json:"usernameClaim"`
	UsernamePrefix string `json:"usernamePrefix"`
	GroupsPrefix   string `json:"groupsPrefix"`
	CABundle       []byte `json:"caBundle,omitempty"`
}

// kubeconfig is a client-go kubeconfig (clientcmd/api/v1 Config), with the
// fields this tool sets.
type kubeconfig struct {
	APIVersion     string              `json:"apiVersion"`
	Kind           string              `json:"kind"`
	Clusters       []kubeconfigCluster `json:"clusters"`
	Contexts       []kubeconfigContext `json:"contexts"`
	Users          []kubeconfigUser    `json:"users"`
	CurrentContext string              `json:"current-context,omitempty"`
}

type kubeconfigCluster struct {
	Name    string `json:"name"`
	Cluster struct {
		Server                   string `json:"server"`
		CertificateAuthorityData []byte `json:"certificate-authority-data,omitempty"`
	} `json:"cluster"`
}

type kubeconfigContext struct {
	Name    string `json:"name"`
	Context struct {
		Cluster   string `json:"cluster"`
		User      string `json:"user"`
		Namespace string `json:"namespace,omitempty"`
	} `json:"context"`
}

type kubeconfigUser struct {
	Name string `json:"name"`
	User struct {
		Exec execConfig `json:"exec"`
	} `json:"user"`
}

// execConfig is a kubeconfig user's exec (clientcmd/api/v1 ExecConfig).
type execConfig struct {
	APIVersion      string   `json:"apiVersion"`
	Command         string   `json:"command"`
	Args            []string `json:"args"`
	InstallHint     string   `json:"installHint,omitempty"`
	InteractiveMode string   `json:"interactiveMode"`
}
