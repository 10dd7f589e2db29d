use mamori_storage::model::{AdminRoleKind, LoginMethod, TenantPolicy};

use super::*;
use crate::test_context::TestContext;

/// The last enabled super-admin keeps the role (an outside review revoked both and was
/// left with no one who could reach the console's shared pages); with another one, it goes.
#[tokio::test]
async fn the_last_super_admin_role_is_not_revoked() {
    let ctx = TestContext::new().await;
    let tenant = ctx.tenant(TenantPolicy::default()).await;
    let cli = Principal::local_cli();
    let root = ctx.user(&tenant, "root", LoginMethod::CertPassword, None).await;
    grant(&ctx.app, &cli, &tenant.slug, "root", "super-admin").await.expect("granted");

    let refused = revoke(&ctx.app, &cli, &tenant.slug, "root", "super-admin").await;
    assert!(matches!(&refused, Err(AdminError::Conflict(why)) if why.contains("last enabled super-admin")), "{refused:?}");
    let held = ctx.app.storage.admin_roles().list_for_user(root.id).await.expect("roles");
    assert!(held.iter().any(|r| r.role == AdminRoleKind::SuperAdmin), "still a super-admin");

    ctx.user(&tenant, "deputy", LoginMethod::CertPassword, None).await;
    grant(&ctx.app, &cli, &tenant.slug, "deputy", "super-admin").await.expect("granted");
    revoke(&ctx.app, &cli, &tenant.slug, "root", "super-admin").await.expect("another one remains");
    let refused = revoke(&ctx.app, &cli, &tenant.slug, "deputy", "super-admin").await;
    assert!(matches!(refused, Err(AdminError::Conflict(_))), "now the deputy is the last: {refused:?}");
    // A tenant-admin role is not guarded.
    grant(&ctx.app, &cli, &tenant.slug, "root", "tenant-admin").await.expect("granted");
    revoke(&ctx.app, &cli, &tenant.slug, "root", "tenant-admin").await.expect("revoked");
}
