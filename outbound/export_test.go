package outbound

// IdlePipelined counts r's cached connections that pipeline and those on go-smtp's client.
func IdlePipelined(r *Relay) (pipelined, plain int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ic := range r.idle {
		if _, ok := ic.c.(*pipelinedConn); ok {
			pipelined++
		} else {
			plain++
		}
	}
	return pipelined, plain
}
