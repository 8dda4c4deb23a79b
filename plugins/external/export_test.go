package external

// GoPluginNesting is what runIn expects go-plugin to add to the path of the socket directory.
const GoPluginNesting = goPluginNesting
