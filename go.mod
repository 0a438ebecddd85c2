module github.com/k8s-secret-enum/k8s-secret-enum

go 1.26

require (
	github.com/json-iterator/go v1.1.12
	github.com/modern-go/reflect2 v1.0.2
)

require github.com/modern-go/concurrent v0.0.0-20180228061459-e0a39a4cb421 // indirect
