module ionats/tests/seeds/seed001

// nats.go as the tutorial's author used it (v1.16.0, Go 1.18). go.current.mod pins the
// current release for the same program: go build -modfile=go.current.mod.
go 1.18

require github.com/nats-io/nats.go v1.16.0

require (
	github.com/nats-io/nkeys v0.3.0 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	golang.org/x/crypto v0.0.0-20210314154223-e6e6c4f2bb5b // indirect
)
