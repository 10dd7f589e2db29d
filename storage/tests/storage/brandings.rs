//! Tenant branding (migration 0021): none until set, replaced whole, the image loaded only
//! when asked for, gone with its tenant.

use mamori_storage::Storage;
use mamori_storage::model::{TenantBranding, TenantPolicy};

use crate::harness::t0;

on_both!(branding_is_set_replaced_and_deleted_with_its_tenant);

async fn branding_is_set_replaced_and_deleted_with_its_tenant(s: Storage) {
    let tenant = s.tenants().create("brand", "Brand", &TenantPolicy::default(), t0()).await.unwrap();
    let other = s.tenants().create("plain", "Plain", &TenantPolicy::default(), t0()).await.unwrap();
    assert_eq!(s.tenant_brandings().get(tenant.id).await.unwrap(), TenantBranding::default());

    let full = TenantBranding {
        accent_colour: Some("#1a4f8b".into()),
        logo_sha256: Some("ab".repeat(32)),
        logo_png: Some(vec![0x89, b'P', b'N', b'G', 0, 1, 2, 255]),
    };
    s.tenant_brandings().set(tenant.id, &full, t0()).await.unwrap();
    assert_eq!(s.tenant_brandings().get_with_logo(tenant.id).await.unwrap(), full);
    // Pages get the colour and the digest, never the image.
    assert_eq!(s.tenant_brandings().get(tenant.id).await.unwrap(), TenantBranding { logo_png: None, ..full.clone() });
    assert_eq!(s.tenant_brandings().get(other.id).await.unwrap(), TenantBranding::default(), "another tenant's is its own");

    // A second set replaces every value (the upsert, not a second row).
    let colour_only = TenantBranding { accent_colour: Some("#000000".into()), ..TenantBranding::default() };
    s.tenant_brandings().set(tenant.id, &colour_only, t0()).await.unwrap();
    assert_eq!(s.tenant_brandings().get_with_logo(tenant.id).await.unwrap(), colour_only);

    // Deleting the tenant deletes its branding (the foreign key cascades).
    s.tenants().delete(tenant.id, "cessationOfOperation", t0()).await.unwrap();
    assert_eq!(s.tenant_brandings().get_with_logo(tenant.id).await.unwrap(), TenantBranding::default());
}
