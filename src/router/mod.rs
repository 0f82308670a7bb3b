//! Traffic routers behind one trait: replicas, istio, gateway-api, knative.
