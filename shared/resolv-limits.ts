// Kubernetes' limits for a pod's resolv.conf (MaxDNSNameservers, MaxDNSSearchPaths,
// MaxDNSSearchListChars): the manifest schema checks them, the agent applies them.
export const MAX_DNS_NAMESERVERS = 3;
export const MAX_DNS_SEARCHES = 32;
export const MAX_DNS_SEARCH_CHARS = 2048;
