//! The EndpointSlice controller's reconcile: a Service's slices follow its ready pods.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

use crate::controllers::cache::Key;
use crate::controllers::endpointslice::{
    desired_endpoints, new_slice, plan_slices, selects, service_selector,
};
use crate::controllers::manager::{to_value, Manager};
use crate::resources::ENDPOINTSLICES;
use crate::store::DeleteOptions;

impl Manager {
    pub(in crate::controllers) fn sync_endpoints(&mut self, key: &Key) {
        let existing: Vec<Key> =
            self.cache.slices_by_service.get(key).map(|s| s.iter().cloned().collect()).unwrap_or_default();
        let Some(service) = self.cache.services.get(key).cloned() else { return };
        let Some(selector) = service_selector(&service).cloned() else {
            for slice in existing {
                let _ = self.store.delete(&ENDPOINTSLICES, &slice.0, &slice.1, &DeleteOptions::default());
            }
            return;
        };
        let pods: Vec<Arc<Pod>> = self
            .cache
            .pods_by_namespace
            .get(&key.0)
            .into_iter()
            .flatten()
            .filter_map(|k| self.cache.pods.get(k))
            .filter(|p| selects(&selector, &p.pod))
            .map(|p| p.pod.clone())
            .collect();
        let refs: Vec<&Pod> = pods.iter().map(Arc::as_ref).collect();
        let (endpoints, ports) = desired_endpoints(&service, &refs);
        let slices: Vec<(Key, Arc<k8s_openapi::api::discovery::v1::EndpointSlice>)> = existing
            .iter()
            .filter_map(|k| self.cache.slices.get(k).map(|s| (k.clone(), s.clone())))
            .collect();
        let current: Vec<(Key, &k8s_openapi::api::discovery::v1::EndpointSlice)> =
            slices.iter().map(|(k, s)| (k.clone(), s.as_ref())).collect();
        let plan = plan_slices(&current, endpoints, &ports);
        let ports_value = Some(to_value(&ports)).filter(|_| !ports.is_empty());
        for (slice_key, endpoints) in plan.update {
            let endpoints = to_value(&endpoints);
            let _ = self.store.modify(&ENDPOINTSLICES, &slice_key.0, &slice_key.1, |v| {
                v["endpoints"] = endpoints.clone();
                match &ports_value {
                    Some(p) => v["ports"] = p.clone(),
                    None => {
                        if let Some(o) = v.as_object_mut() {
                            o.remove("ports");
                        }
                    }
                }
            });
        }
        for endpoints in plan.create {
            if let Err(err) =
                self.store.create(&ENDPOINTSLICES, to_value(&new_slice(&service, endpoints, ports.clone())))
            {
                tracing::debug!("service {}/{}: cannot create endpoint slice: {}", key.0, key.1, err.message);
            }
        }
        for slice_key in plan.delete {
            let _ = self.store.delete(&ENDPOINTSLICES, &slice_key.0, &slice_key.1, &DeleteOptions::default());
        }
    }
}
