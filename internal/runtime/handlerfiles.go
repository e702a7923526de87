package runtime

import "strings"

// HandlerFiles are the files, relative to the code directory, that the
// runtime may load as the handler's module (for nodejs and python
// runtimes) or run (bootstrap, for provided ones). Snapshots refuse them
// as links out of the service.
func HandlerFiles(runtimeID, handler string) []string {
	fam, err := parseRuntime(runtimeID)
	if err != nil {
		return nil
	}
	return handlerFiles(fam, handler)
}

func handlerFiles(fam family, handler string) []string {
	switch fam {
	case familyProvided:
		return []string{"bootstrap"}
	case familyNode:
		// file.export: the module ends at the first dot after the last slash.
		dir, rest := "", handler
		if i := strings.LastIndexByte(handler, '/'); i >= 0 {
			dir, rest = handler[:i+1], handler[i+1:]
		}
		if j := strings.IndexByte(rest, '.'); j >= 0 {
			rest = rest[:j]
		}
		module := dir + rest
		return []string{module, module + ".js", module + ".mjs", module + ".cjs"}
	case familyPython:
		// module.function: the module is everything before the last dot.
		module := handler
		if i := strings.LastIndexByte(handler, '.'); i >= 0 {
			module = handler[:i]
		}
		module = strings.ReplaceAll(module, ".", "/")
		return []string{module + ".py", module + "/__init__.py", module}
	}
	return nil
}
