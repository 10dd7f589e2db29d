//! The CRL each CA last published (migration 0016), shared by every node.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict};
use sea_orm::{DatabaseConnection, EntityTrait, IntoActiveModel, QuerySelect};
use uuid::Uuid;

use crate::StorageError;
use crate::convert::{ms, time};
use crate::entity::published_crl as crl;
use crate::error::db_err;
use crate::model::{CrlHeader, PublishedCrl, RevocationMark};

pub struct PublishedCrls<'a> {
    db: &'a DatabaseConnection,
}

type HeaderRow = (Uuid, i64, i64, i64, i64, Option<i64>);

impl<'a> PublishedCrls<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        PublishedCrls { db }
    }

    /// The header of the CA's published CRL, without the bytes: one small read.
    pub async fn header(&self, ca_id: Uuid) -> Result<Option<CrlHeader>, StorageError> {
        use crl::Column as C;
        let row = crl::Entity::find_by_id(ca_id)
            .select_only()
            .columns([C::CaId, C::CrlNumber, C::ThisUpdate, C::NextUpdate, C::RevokedCount, C::LatestRevocation])
            .into_tuple::<HeaderRow>()
            .one(self.db)
            .await
            .map_err(db_err)?;
        row.map(to_header).transpose()
    }

    pub async fn get(&self, ca_id: Uuid) -> Result<Option<PublishedCrl>, StorageError> {
        let model = crl::Entity::find_by_id(ca_id).one(self.db).await.map_err(db_err)?;
        model
            .map(|m| {
                let header = to_header((m.ca_id, m.crl_number, m.this_update, m.next_update, m.revoked_count, m.latest_revocation))?;
                Ok(PublishedCrl { header, der: m.der })
            })
            .transpose()
    }

    /// Publishes `new` if its number is higher than the stored one's (or none is
    /// stored), in one statement. False when another node published a CRL with the same
    /// or a higher number first: the caller then serves that one.
    pub async fn publish(&self, new: &PublishedCrl) -> Result<bool, StorageError> {
        use crl::Column as C;
        let h = &new.header;
        let number = i64::try_from(h.crl_number).map_err(|_| StorageError::Backend("CRL number out of range".to_owned()))?;
        let model = crl::Model {
            ca_id: h.ca_id,
            crl_number: number,
            der: new.der.clone(),
            this_update: ms(h.this_update),
            next_update: ms(h.next_update),
            revoked_count: h.mark.revoked,
            latest_revocation: h.mark.latest,
        };
        let newer = Expr::col((crl::Entity, C::CrlNumber)).lt(Expr::col((Alias::new("excluded"), C::CrlNumber)));
        let on_conflict = OnConflict::column(C::CaId)
            .update_columns([C::CrlNumber, C::Der, C::ThisUpdate, C::NextUpdate, C::RevokedCount, C::LatestRevocation])
            .action_and_where(newer)
            .to_owned();
        let result = crl::Entity::insert(model.into_active_model())
            .on_conflict(on_conflict)
            .exec_without_returning(self.db)
            .await
            .map_err(db_err)?;
        Ok(result == 1)
    }
}

fn to_header((ca_id, number, this_update, next_update, revoked, latest): HeaderRow) -> Result<CrlHeader, StorageError> {
    Ok(CrlHeader {
        ca_id,
        crl_number: u64::try_from(number).map_err(|_| StorageError::Backend("negative CRL number".to_owned()))?,
        this_update: time("published_crls.this_update", this_update)?,
        next_update: time("published_crls.next_update", next_update)?,
        mark: RevocationMark { revoked, latest },
    })
}
